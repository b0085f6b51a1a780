"""The main window: puts the pieces together and routes signals between them.

It holds the per-image state (``ImageEntry``) and listens to the engine controller; every
widget below only shows what it is given. Features with state of their own are objects it
composes, each handed what it uses (``self.intake``, ``self.models``, ``self.comparison``,
``self.grid``, ``self.evaluation``, ``self.sanity``, ``self.stored_results``), and ``_connect``
routes the controller's signals to them. The actions, menus, toolbar and status bar labels are
``self.chrome`` (``WindowChrome``), handed what each action calls. Nothing here computes:
predictions and explanations come from the engine thread, drawing is ``engine.render``'s job.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import EngineError
from gui import exporting
from gui.comparison_actions import ComparisonFeature
from gui.banner import Banner
from gui.central_tabs import CentralTabs, add_page_actions
from gui.engine_controller import EngineController
from gui.engine_requests import ExplainJob, ModelFailure, ModelInfo, ModelRequest, PreviewJob, ig_matches
from gui.evaluation_actions import EvaluationFeature
from gui.evaluation_view import EvaluationView
from gui.figure_canvas import warm_up_drawing
from gui.grid_actions import GridFeature
from gui.image_entry import ImageEntry
from gui.image_intake import MESSAGE_MS, IntakeFeature
from gui.image_list import ImageList
from gui.model_actions import ModelFeature, model_name
from gui.model_info import backend_text, backend_tooltip
from gui.predictions_view import PredictionsView
from gui.progress_panel import ProgressPanel
from gui.recent_models import RecentModelsMenu
from gui.result_settings import RequestedSettings
from gui.results_view import ResultsView
from gui.sanity_actions import SanityFeature
from gui.settings_panel import SettingsPanel
from gui.settings_store import METHOD_CHOICES, open_settings
from gui.stored_results import StoredResultsActions
from gui.weights_dialog import WeightsAssistant
from gui.window_chrome import ChromeSlots, WindowChrome
from gui.window_size import fit_to_screen

DEFAULT_SIZE = (1400, 900)
NO_MODEL_REASON = ("No model is loaded: open one with Model ▸ Open model…, or choose ResNet-50 "
                   "weights (or the untrained network) in the banner")
# Both panels share the left column, so the results get the full width that is left:
# three panels side by side need it more than anything else in the window.
LEFT_COLUMN_WIDTH = 310
IMAGES_HEIGHT = 200


class MainWindow(QMainWindow):
    def __init__(self, model_request: ModelRequest | None = None, restore_layout: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Image Explainer")
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.model_request = model_request or ModelRequest()
        self.entries: dict[int, ImageEntry] = {}
        self._latest_job: dict[int, int] = {}  # image key -> id of its newest job
        self._preview_unsupported: dict[str, int] = {}  # preview method -> model generation it failed on
        self.controller = EngineController(self)
        self._build_widgets()
        # ``report`` is looked up on each call: whatever watches the window's reports sees
        # the intake's too (the tests that count them replace ``window.report``).
        self.intake = IntakeFeature(
            self, self.controller, self.entries, image_list=self.image_list, results_view=self.results_view,
            banner=self.banner, report=lambda *a, **k: self.report(*a, **k), show_entry=self._show_entry,
            update_actions=self._update_actions, forget_job=lambda key: self._latest_job.pop(key, None))
        self.comparison = ComparisonFeature(self, self.results_view, add_to_result=self._add_to_result)
        self._recent_models_menu = RecentModelsMenu(lambda entry: self.models.open_recent_model(entry), self)
        self.chrome = WindowChrome(self, self._chrome_slots(), compare_action=self.comparison.action,
                                   recent_models_menu=self._recent_models_menu,
                                   docks=[self.images_dock, self.settings_dock],
                                   fast_cpu_on=self.model_request.precision == "bfloat16")
        self.explain_button.clicked.connect(self.explain_current)
        self.explain_all_button.clicked.connect(self.explain_all)
        self.intake.use_undo_action(self.chrome.undo_action)
        self.models = ModelFeature(
            self, self.controller, self.model_request, banner=self.banner, settings_panel=self.settings_panel,
            results_view=self.results_view, image_list=self.image_list, entries=self.entries,
            show_entry=self._show_entry, report=self.report, fast_cpu_action=self.chrome.fast_cpu_action,
            recent_menu=self._recent_models_menu)
        self.grid.add_export_action(self.chrome.make_action, after=self.chrome.export_maps_action)
        self.evaluation = EvaluationFeature(
            self, self.central_tabs.page("evaluation"), self.controller, banner=self.banner, tabs=self.central_tabs,
            entries=self.entries, add_paths=self.intake.add_paths, explain=self.explain,
            select_image=self.image_list.select_key, report=self.report, update_actions=self._update_actions,
            mark_grid_stale=self.grid.view.mark_stale, make_action=self.chrome.make_action,
            export_anchor=self.grid.export_action)
        self.grid.use_evaluation(self.evaluation)
        self.sanity = SanityFeature(self, self.controller, self.results_view, current_entry=self.current_entry,
                                    report=self.report, update_actions=self._update_actions,
                                    make_action=self.chrome.make_action)
        add_page_actions(self, self.central_tabs, self.chrome.make_action)
        self.stored_results = StoredResultsActions(self, self.controller)
        self.chrome.build_status_bar()
        self._connect()
        self.resize(*DEFAULT_SIZE)
        self._restored = False
        self._remember_layout = restore_layout
        if restore_layout:
            self._restore_layout()
        fit_to_screen(self)  # the default (or a saved) size may be larger than this screen
        self._update_actions()

    # ================================================================== building

    def _build_widgets(self) -> None:
        self.banner = Banner()
        self.grid = GridFeature(self, self.entries, report=self.report)
        self.predictions_view = PredictionsView()
        self.results_view = ResultsView()
        self.progress_panel = ProgressPanel()
        self.image_list = ImageList()
        self.settings_panel = SettingsPanel()

        self.explain_button = QPushButton("Explain")
        self.explain_button.setObjectName("explainButton")
        self.explain_button.setDefault(True)
        self.explain_button.setMinimumSize(150, 40)
        self.explain_button.setStyleSheet("QPushButton { font-weight: bold; font-size: 14px; }")
        self.explain_all_button = QPushButton("Explain all")
        self.explain_all_button.setObjectName("explainAllButton")
        self.explain_all_button.setMinimumWidth(150)
        self.plan_label = QLabel()
        self.plan_label.setObjectName("planLabel")
        self.plan_label.setStyleSheet("color: #555;")
        self.plan_label.setWordWrap(True)
        self.plan_label.setMaximumWidth(170)
        buttons = QVBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.explain_button)
        buttons.addWidget(self.explain_all_button)
        buttons.addWidget(self.plan_label)
        buttons.addStretch(1)

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.predictions_view, 1)
        top.addLayout(buttons)

        explanations = QWidget()
        page = QVBoxLayout(explanations)
        page.setContentsMargins(0, 6, 0, 0)
        page.setSpacing(8)
        page.addLayout(top)
        page.addWidget(self.results_view, 1)
        page.addWidget(self.results_view.summary_label)
        self.central_tabs = CentralTabs({
            "explanations": ("Explanations", explanations, "The selected image: its classes and explanations"),
            "grid": ("Grid", self.grid.view, "Every explained image × its classes, one colour scale"),
            "evaluation": ("Evaluation", EvaluationView(),
                           "Accuracy and confusion matrix on a labelled folder"),
        })

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(8)
        layout.addWidget(self.banner)
        layout.addWidget(self.central_tabs, 1)
        layout.addWidget(self.progress_panel)
        self.setCentralWidget(central)

        self.images_dock = self._dock("Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.settings_dock = self._dock("Settings", self.settings_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.splitDockWidget(self.images_dock, self.settings_dock, Qt.Orientation.Vertical)
        self._docks_sized = False

    def add_paths(self, paths) -> list[ImageEntry]:
        """Files and folders, every image in before this returns (the command line, tests)."""
        return self.intake.add_paths(paths)

    # Qt calls these on the window itself; what a drag may bring in is the intake's call.
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.intake.drag_enter(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.intake.drag_enter(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.intake.drop(event)

    def _chrome_slots(self) -> ChromeSlots:
        # Lambdas where the feature is made after the actions (the model feature needs them).
        return ChromeSlots(
            open_files=self.intake.open_files, open_folder=self.intake.open_folder,
            open_sample=self.intake.open_sample, export_figure=self.export_figure, export_maps=self.export_maps,
            quit=self.close, paste=self.intake.paste, remove_current=self.intake.remove_current,
            clear_list=self.intake.clear_list, undo_removal=self.intake.undo_removal,
            explain_current=self.explain_current, explain_all=self.explain_all,
            cancel_current=self.cancel_current, cancel_all=self.controller.cancel_all,
            next_tab=lambda: self.results_view.step_tab(1), previous_tab=lambda: self.results_view.step_tab(-1),
            open_model=lambda: self.models.open_model_dialog(), use_resnet50=lambda: self.models.use_resnet50(),
            show_model_summary=lambda: self.models.show_summary(),
            toggle_fast_cpu=lambda: self.models.toggle_fast_cpu())

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        c = self.controller
        c.modelLoading.connect(self._on_model_loading)
        c.modelReady.connect(self._on_model_ready)
        c.modelFailed.connect(self._on_model_failed)
        c.preparing.connect(self._on_preparing)
        c.predictionsReady.connect(self._on_predictions)
        c.predictionFailed.connect(self._on_prediction_failed)
        c.queueChanged.connect(self._on_queue_changed)
        c.jobStarted.connect(self._on_job_started)
        c.jobProgress.connect(self._on_job_progress)
        c.resultReady.connect(self._on_result)
        c.jobFinished.connect(self._on_job_finished)
        c.jobFailed.connect(self._on_job_failed)
        c.metricsReady.connect(self._on_metrics)
        c.previewReady.connect(self._on_preview)
        c.previewEnded.connect(self._on_preview_ended)
        c.previewFailed.connect(self._on_preview_failed)
        c.previewProgress.connect(self._on_preview_progress)
        self.weights = WeightsAssistant(self, self.banner, c)
        self.image_list.currentKeyChanged.connect(self._show_entry)
        self.progress_panel.cancelRequested.connect(self.cancel_current)
        self.settings_panel.limeViewChanged.connect(self.results_view.set_lime_view)
        self.settings_panel.settingsChanged.connect(lambda *_: self.update_plan())
        self.settings_panel.settingsChanged.connect(self._on_preview_setting)
        self.results_view.set_lime_view(self.settings_panel.settings().lime_view_object())
        c.modelReady.connect(self.models.on_model_switched)  # after _on_model_ready: its note is the last
        c.evaluationStarted.connect(self.evaluation.on_started)
        c.evaluationProgress.connect(self.evaluation.on_progress)
        c.evaluationReady.connect(self.evaluation.on_ready)
        c.evaluationFailed.connect(self.evaluation.on_failed)
        c.evaluationFinished.connect(self.evaluation.on_finished)
        c.sanityProgress.connect(self.sanity.on_progress)
        c.sanityMethodReady.connect(self.sanity.on_method_ready)
        c.sanityFinished.connect(self.sanity.on_finished)
        c.stabilityReady.connect(self.comparison.on_stability)
        self.update_plan()

    # ================================================================== start and stop

    def start(self) -> None:
        """Start the engine thread; it loads the model while the window is already up."""
        self.controller.start(self.model_request)
        # After the first paint: fonts and caches load now, not when the first result lands.
        QTimer.singleShot(100, warm_up_drawing)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().showEvent(event)
        if not self._docks_sized:  # dock sizes only take once the window is laid out
            self._docks_sized = True
            if not self._restored:
                self.resizeDocks([self.images_dock], [LEFT_COLUMN_WIDTH], Qt.Orientation.Horizontal)
                self.resizeDocks([self.images_dock, self.settings_dock],
                                 [IMAGES_HEIGHT, self.height() - IMAGES_HEIGHT], Qt.Orientation.Vertical)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if self._remember_layout:  # a screenshot run's fixed layout must not replace the person's
            store = open_settings()
            store.setValue("window/geometry", self.saveGeometry())
            store.setValue("window/state", self.saveState())
            store.sync()
        self.controller.shutdown()  # cancel, quit, wait
        super().closeEvent(event)

    def _restore_layout(self) -> None:
        store = open_settings()
        geometry, state = store.value("window/geometry"), store.value("window/state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._restored = self.restoreState(state)

    # ================================================================== explaining

    def current_entry(self) -> ImageEntry | None:
        return self.entries.get(self.image_list.current_key())

    def explain_current(self) -> ExplainJob | None:
        entry = self.current_entry()
        if entry is None:
            self.report("Add an image first (drop it on the window, or File ▸ Open)", "info")
            return None
        return self.explain(entry)

    def explain_all(self) -> list[ExplainJob]:
        jobs = []
        if not self.models.background_ready(self.settings_panel.settings()):
            return jobs
        for entry in self.entries.values():
            if entry.status not in ("queued", "explaining"):
                jobs.append(self.explain(entry))
        return jobs

    def explain(self, entry: ImageEntry, methods: list[str] | None = None) -> ExplainJob | None:
        settings = self.settings_panel.settings()
        if not self.models.background_ready(settings):
            return None  # background-set SHAP without a folder: the banner says what to do
        self.preview(entry)
        job = self.controller.submit(entry.key, entry.image, methods or settings.method_list,
                                     settings.shap_params(), settings.lime_params(), settings.classes,
                                     ig=settings.ig_params(),
                                     faithfulness_steps=settings.faithfulness_plan(),
                                     background=settings.background_params(),
                                     **self.comparison.trust_options(settings, entry))
        self._latest_job[entry.key] = job.job_id
        self._note_request(entry, RequestedSettings.of(settings, self._num_classes()))
        entry.status, entry.error, entry.progress = "queued", None, 0.0
        self._refresh(entry)
        return job

    def _num_classes(self) -> int | None:
        info = self.controller.model_info
        return info.num_classes if info is not None else None

    def _note_request(self, entry: ImageEntry, requested: RequestedSettings) -> None:
        """The settings of the latest request: results made with others are marked until
        recomputed (redrawn now only when that changes what is marked)."""
        before = entry.earlier_settings()
        entry.requested = requested
        if entry.results and entry.earlier_settings() != before:
            self._redraw_results(entry)

    def preview(self, entry: ImageEntry) -> PreviewJob | None:
        """Queue a preview of the entry's top classes (Grad-CAM, then IG if that is on too),
        if it is on and still needed."""
        settings = self.settings_panel.settings()
        if not settings.instant_preview or self.controller.model_state != "ready":
            return None
        if not self.controller.model_info.supports_gradients:
            return None  # Grad-CAM and IG need gradients (an ONNX model has none)
        if self.controller.preview_pending(entry.key):
            return None
        generation = self.controller.model_info.generation
        # A model with fewer classes than asked for explains all it has.
        classes = min(settings.classes, self.controller.model_info.num_classes)
        current = entry.results.get("gradcam")
        gradcam = (self._preview_unsupported.get("gradcam") != generation  # no convolutional layer
                   and (current is None or len(current.classes) != classes))
        ig = settings.ig_params() if settings.preview_ig else None
        if entry.key != self.image_list.current_key():
            # IG takes seconds per class on a CPU: only the image on screen gets it, so a
            # dropped folder or Explain all never queues minutes of previews ahead of jobs.
            ig = None
        current = entry.results.get("ig")
        if ig is not None and (self._preview_unsupported.get("ig") == generation
                               or (current is not None and len(current.classes) == classes
                                   and ig_matches(current, ig))):
            ig = None
        if not gradcam and ig is None:
            return None
        if ig is not None and entry.requested is not None:  # the newest IG asked for: not "earlier"
            self._note_request(entry, entry.requested.with_params("ig", ig))
        return self.controller.submit_preview(entry.key, entry.image, settings.classes, gradcam=gradcam, ig=ig)

    def cancel_current(self) -> None:
        """Esc stops whatever runs on the engine: the job, else the evaluation, else the
        Integrated Gradients preview (seconds of work the person may not want)."""
        if self.controller.cancel_current():
            self.statusBar().showMessage("Cancelling…", MESSAGE_MS)
        elif not self.evaluation.cancel() and self.controller.previews_pending_for("ig"):
            self.controller.cancel_previews("ig")  # its previewEnded updates the actions and panel
            self.statusBar().showMessage("Integrated Gradients preview stopped; select the image to run it again",
                                         MESSAGE_MS)

    # ================================================================== engine signals

    def _on_model_loading(self, what: str) -> None:
        self._update_actions()
        self.progress_panel.model_loading(model_name(what))
        self.chrome.model_label.setText("Loading model…")
        self.chrome.backend_label.setText("")
        self.chrome.untrained_label.hide()

    def _on_model_ready(self, info: ModelInfo) -> None:
        self.progress_panel.model_loaded(True)
        self.settings_panel.set_gradients_available(info.supports_gradients, info.gradient_note)
        self._update_actions()
        self.chrome.model_label.setText(info.label)
        self.chrome.model_label.setToolTip(f"input {info.input_size[0]}×{info.input_size[1]}, "
                                    f"{info.num_classes} classes")
        self.chrome.backend_label.setText(backend_text(info))
        self.chrome.backend_label.setToolTip(backend_tooltip(info))
        self.chrome.untrained_label.setVisible(info.untrained)
        self.banner.dismiss("model")
        self.statusBar().showMessage(f"Model ready: {info.label}", MESSAGE_MS)
        self._show_entry(self.image_list.current_key())

    def _on_preparing(self, active: bool) -> None:
        if active:
            self.statusBar().showMessage("Preparing the explainers (first run only)…", MESSAGE_MS)
        elif "Preparing" in self.statusBar().currentMessage():
            self.statusBar().clearMessage()

    def _on_model_failed(self, failure: ModelFailure) -> None:
        self.progress_panel.model_loaded(failure.previous is not None)
        self._update_actions()
        previous = failure.previous  # the model still in use, if any
        self.chrome.model_label.setText(previous.label if previous is not None else "No model")
        if previous is not None:  # "Loading model…" cleared it
            self.chrome.backend_label.setText(backend_text(previous))
        if self.models.explain_failure(failure):  # a model file (gui.model_actions says why)
            self._show_entry(self.image_list.current_key())
            return
        self.statusBar().showMessage(f"The model could not be loaded: {failure.message}", MESSAGE_MS)
        if failure.weights_missing:
            self.weights.offer(failure)
        elif self.controller.model_request is not None and self.controller.model_request.model == "resnet50":
            self.weights.offer_after_error(failure)
        else:
            self.report(f"The model could not be loaded: {failure.message}", topic="model")
        self._show_entry(self.image_list.current_key())

    def _on_predictions(self, key: int, predictions) -> None:
        entry = self.entries.get(key)
        if entry is None:
            return
        entry.predictions, entry.prediction_error = list(predictions), None
        if predictions:
            self.preview(entry)
        if entry.status == "ready" and predictions:
            self.image_list.update_entry(entry)
        if key == self.image_list.current_key():
            self.predictions_view.set_entry(entry, self.controller.model_state)

    def _on_prediction_failed(self, key: int, message: str) -> None:
        entry = self.entries.get(key)
        if entry is None:
            return
        entry.prediction_error = message
        self.report(f"{entry.name}: {message}", topic="prediction")
        if key == self.image_list.current_key():
            self.predictions_view.set_entry(entry, self.controller.model_state)

    def _on_queue_changed(self) -> None:
        waiting = self.controller.waiting_jobs
        for position, job in enumerate(waiting, start=1):
            entry = self._entry_for(job)
            if entry is not None:
                entry.status, entry.queue_position = "queued", position
                self.image_list.update_entry(entry)
        self.progress_panel.set_queue([self.entries[j.image_key].name for j in waiting
                                       if j.image_key in self.entries])
        self._update_actions()

    def _on_job_started(self, job: ExplainJob) -> None:
        entry = self._entry_for(job)
        if entry is None:
            return
        entry.status, entry.progress = "explaining", 0.0
        self.progress_panel.job_started(job, entry.name)
        self._refresh(entry)

    def _on_job_progress(self, job: ExplainJob) -> None:
        entry = self._entry_for(job)
        if entry is None:
            return
        entry.progress = job.done / max(1, job.total)
        self.image_list.update_entry(entry)
        self.progress_panel.job_progress(job)

    def _on_result(self, job: ExplainJob, explanation) -> None:
        entry = self._entry_for(job)
        if entry is None:
            job.shown.set()
            return
        entry.add_result(explanation)
        self._redraw_results(entry)
        self._update_actions()
        self._release_when_drawn(job)

    def _on_metrics(self, job: ExplainJob, method: str, scores: dict) -> None:
        self._add_to_result(job, method, "metrics", scores)

    def _add_to_result(self, job: ExplainJob, method: str, kind: str, value: dict) -> None:
        """Faithfulness scores or stability for a method already shown: kept, then drawn."""
        entry = self._entry_for(job)
        if entry is None or method not in entry.results:
            job.shown.set()
            return
        getattr(entry, kind)[method] = value
        self._redraw_results(entry)
        self._release_when_drawn(job)

    def _on_preview(self, preview, explanation) -> None:
        entry = self.entries.get(preview.image_key)
        current = next(iter(entry.results.values()), None) if entry is not None else None
        if entry is None or (current is not None and list(current.classes) != list(explanation.classes)
                             and entry.status not in ("queued", "explaining")):
            # Gone, or its full results explain other classes: the preview would replace them.
            preview.shown.set()
            return
        entry.add_result(explanation)
        self._redraw_results(entry)
        self._update_actions()
        self._release_when_drawn(preview)
        if explanation.method == "ig" and "preview" in self.statusBar().currentMessage():
            self.statusBar().clearMessage()  # its progress

    def _on_preview_ended(self, preview) -> None:
        # An image that came on screen while its Grad-CAM-only preview was still queued gets
        # its IG now (only after such a preview: never a second try of the same one).
        entry = self.entries.get(preview.image_key)
        stopped = preview.cancel.cancelled
        if preview.ig is not None:
            self._update_actions()  # Esc no longer has this preview to stop
            self.progress_panel.preview_ended(entry.name if entry else "", stopped=stopped)
        if (preview.ig is None and not stopped and entry is not None and entry.predictions
                and entry.key == self.image_list.current_key()):
            self.preview(entry)

    def _on_preview_progress(self, preview, done: int, total: int) -> None:
        entry = self.entries.get(preview.image_key)
        if entry is not None:
            shown = self.statusBar().currentMessage()
            if not shown or "preview" in shown:
                # Not over another message ("Removed chelsea.png — Ctrl+Z to undo"): the
                # progress panel shows this one too, that one would be gone unread.
                self.statusBar().showMessage(f"Integrated Gradients preview of {entry.name}: "
                                             f"{done * 100 // max(1, total)}% (Esc stops it)", MESSAGE_MS)
            self.progress_panel.preview_progress(entry.name, done, total)
        if not self.chrome.cancel_action.isEnabled():
            self._update_actions()

    def _on_preview_setting(self, name: str) -> None:
        """Unticking a preview setting stops the previews it asked for (they can take seconds)."""
        settings = self.settings_panel.settings()
        if name == "instant_preview" and not settings.instant_preview:
            self.controller.cancel_previews()
        elif name == "preview_ig" and not settings.preview_ig:
            self.controller.cancel_previews("ig")

    def _on_preview_failed(self, preview, method: str, message: str) -> None:
        # Not every model has a convolutional layer (Grad-CAM needs one): no banner, just
        # no Grad-CAM preview for this model from now on (IG still comes).
        if self.controller.model_info is None or not method:
            return  # the image itself failed: its prediction says so
        self._preview_unsupported[method] = self.controller.model_info.generation
        if method == "ig":
            self.statusBar().showMessage(f"No Integrated Gradients preview: {message}", MESSAGE_MS)

    def _release_when_drawn(self, job) -> None:
        """Tell the engine it may go on once the new result is on screen (see ExplainJob.shown)."""
        canvas = self.results_view.current_canvas()
        if canvas is not None and canvas.render_pending:
            # A lambda, not the bound ``shown.set``: PySide keeps a lambda alive, but not the
            # Event behind a bound method, which may be gone (job over) before the canvas draws.
            shown = job.shown
            canvas.rendered.connect(lambda: shown.set(), Qt.ConnectionType.SingleShotConnection)
        else:
            job.shown.set()

    def _on_job_finished(self, job: ExplainJob) -> None:
        entry = self.entries.get(job.image_key)
        name = entry.name if entry is not None else "image"
        self.progress_panel.job_ended(job, name, (entry.error or "") if entry is not None else "")
        if entry is None or self._latest_job.get(job.image_key) != job.job_id:
            return  # superseded by a newer job for the same image
        entry.status = job.state
        self._refresh(entry)
        if job.state == "cancelled":
            self.statusBar().showMessage(f"Cancelled {name} after {job.done} of {job.total} evaluations",
                                         MESSAGE_MS)
        elif job.state == "done":
            self.statusBar().showMessage(f"Explained {name}", MESSAGE_MS)
            self.banner.dismiss("job")  # an earlier failure is old news once a job succeeds

    def _on_job_failed(self, job: ExplainJob, message: str) -> None:
        entry = self._entry_for(job)
        if entry is None:
            return
        entry.error = message
        self.report(f"Explaining {entry.name} failed: {message}", topic="job")

    def _entry_for(self, job: ExplainJob) -> ImageEntry | None:
        if self._latest_job.get(job.image_key) != job.job_id:
            return None
        return self.entries.get(job.image_key)

    # ================================================================== export

    def export_figure(self) -> Path | None:
        canvas = self.results_view.current_canvas()
        entry = self.current_entry()
        if canvas is None or entry is None:
            self.report("Nothing to export yet: explain an image first", "info")
            return None
        suggested = exporting.figure_name(entry, canvas.class_index, self.results_view.mode == "compare")
        try:
            path = exporting.export_figure(self, canvas, suggested)
        except (OSError, ValueError, EngineError) as exc:  # EngineError: a full disk, named
            self.report(f"Could not export the figure: {exc}", topic="export")
            return None
        if path is not None:
            self.statusBar().showMessage(f"Saved {path}", MESSAGE_MS)
        return path

    def export_maps(self, folder: Path | None = None) -> list[Path]:
        entry = self.current_entry()
        if entry is None or not entry.results:
            self.report("Nothing to export yet: explain an image first", "info")
            return []
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = exporting.export_maps(self, entry, self.results_view.lime_view, folder,
                                            sanity=self.sanity.results_for(entry))
        except (OSError, ValueError, EngineError) as exc:  # EngineError: a full disk, named
            self.report(f"Could not export the maps: {exc}", topic="export")
            return []
        finally:
            QApplication.restoreOverrideCursor()
        if written:
            self.statusBar().showMessage(f"Wrote {len(written)} files to {written[0].parent}", MESSAGE_MS)
        return written

    # ================================================================== showing

    def report(self, message: str, level: str = "error", topic: str = "") -> None:
        """A problem the person should see: status bar and the non-modal banner."""
        self.statusBar().showMessage(message, MESSAGE_MS)
        self.banner.show_message(_escape(message), level, topic=topic)

    def _show_entry(self, key: int) -> None:
        entry = self.entries.get(key)
        self.predictions_view.set_entry(entry, self.controller.model_state)
        self.results_view.show_entry(entry)
        self._update_actions()
        if entry is not None and entry.predictions:
            self.preview(entry)  # on screen now: its IG preview, if wanted and not there yet

    def _redraw_results(self, entry: ImageEntry) -> None:
        """New results for ``entry``: its tabs are updated, and drawn now only if it is on screen."""
        self.results_view.update_entry(entry, show=entry.key == self.image_list.current_key())

    def _refresh(self, entry: ImageEntry) -> None:
        self.image_list.update_entry(entry)
        if entry.key == self.image_list.current_key():
            self.results_view.show_entry(entry)
        self._update_actions()

    def update_plan(self) -> None:
        s = self.settings_panel.settings()
        self.plan_label.setText(f"{METHOD_CHOICES[s.methods]} · top {s.classes} "
                                f"class{'es' if s.classes != 1 else ''}"
                                + (" · faithfulness" if s.faithfulness else "")
                                + (f" · stability ×{s.stability_runs}" if s.stability_runs else ""))

    def _update_actions(self) -> None:
        entry = self.current_entry()
        has_results = entry is not None and bool(entry.results)
        # A job waits for a model that is loading; with none loaded or coming it would wait forever.
        no_model = self.controller.model_state in ("idle", "failed")
        reason = NO_MODEL_REASON if no_model else ""
        chrome = self.chrome
        for widget, enabled in ((chrome.explain_action, entry is not None), (self.explain_button, entry is not None),
                                (chrome.explain_all_action, bool(self.entries)),
                                (self.explain_all_button, bool(self.entries))):
            widget.setEnabled(enabled and not no_model)
            widget.setStatusTip(reason)
        self.explain_button.setToolTip(reason or "Explain the selected image (Ctrl+E)")
        chrome.remove_action.setEnabled(entry is not None)
        chrome.clear_action.setEnabled(bool(self.entries))
        self.intake.update_undo_action()
        chrome.cancel_action.setEnabled(self.controller.running_job is not None
                                        or self.controller.evaluation is not None
                                        or self.controller.previews_pending_for("ig"))
        chrome.cancel_all_action.setEnabled(self.controller.busy)
        chrome.export_figure_action.setEnabled(has_results)
        chrome.export_maps_action.setEnabled(has_results)
        self.grid.export_action.setEnabled(any(e.results for e in self.entries.values()))
        self.evaluation.refresh_actions()
        self.sanity.refresh_action(has_results)
        self.grid.view.mark_stale()  # results or the list may have changed; cheap when hidden


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
