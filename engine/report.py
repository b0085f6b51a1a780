"""A batch run's ``summary.csv`` and ``report.html``, written from its index.

The page is self-contained (thumbnails as base64 JPEG data URIs, inline style and script,
nothing fetched from the network), so it opens from disk or a mail attachment. Rows are
streamed from the index, one image at a time, so thousands of images need little memory.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from pathlib import Path

from engine.export import atomic_write

CSV_COLUMNS = ("image", "true_class", "predicted_class", "predicted_probability", "correct", "method",
               "status", "error", "explained_classes", "faithfulness", "random_band_mean", "random_band_sd",
               "better_than_random", "explain_s", "json", "npz")


def faithfulness_score(scores: dict | None) -> float | None:
    """One number per map for the table: the first explained class's SRG (engine.metrics;
    higher is better), None without scores."""
    return _finite(_first((scores or {}).get("srg")))


def _better_than_random(scores: dict) -> str:
    better = _first(scores.get("better_than_random"))
    return "" if better is None else "yes" if better else "no"


def write_summary_csv(index, path: Path, leave_out: frozenset[str] = frozenset()) -> None:
    """One row per image × method (a failed image: one row with its error); the images in
    ``leave_out`` (no longer in the folder) get none."""
    def write(handle) -> None:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        table = csv.writer(text)
        table.writerow(CSV_COLUMNS)
        for image in index.images(leave_out):
            predicted = image["predictions"][0] if image["predictions"] else {}
            common = [image["relpath"], image["true_name"] or "", predicted.get("name", ""),
                      _number(predicted.get("probability")), _correct(image, predicted)]
            rows = list(index.method_rows(image["relpath"]))
            if not rows:
                table.writerow(common + ["", image["status"], image["error"] or ""] + [""] * 8)
            for row in rows:
                scores = row["scores"] or {}
                table.writerow(common + [
                    row["method"], row["status"], row["error"] or "",
                    ";".join(c["name"] for c in row["top_classes"]),
                    _number(faithfulness_score(scores)), _number(_first(scores.get("random_srg_mean"))),
                    _number(_first(scores.get("random_srg_sd"))), _better_than_random(scores),
                    _number(row["timings"].get("explain_s")),
                    row["json_path"], row["npz_path"]])
        text.flush()
        text.detach()

    atomic_write(path, write)


def write_report(index, path: Path, title: str, methods: list[str], model: str = "",
                 leave_out: frozenset[str] = frozenset()) -> None:
    """The page of every recorded image but those in ``leave_out`` (no longer in the folder)."""
    def write(handle) -> None:
        text = io.TextIOWrapper(handle, encoding="utf-8")
        counts = index.counts(leave_out)
        gone = (f" · {len(leave_out)} {_images(len(leave_out))} of earlier runs no longer in the folder "
                "left out (their files stay)") if leave_out else ""
        text.write(_HEAD.replace("{title}", html.escape(title)))
        text.write(f"<h1>{html.escape(title)}</h1><p class=meta>{html.escape(model)} · "
                   f"{counts.get('done', 0)} images explained, {counts.get('failed', 0)} failed{gone} · "
                   f"click a column title to sort</p>")
        text.write("<table id=results><thead><tr><th data-type=text>image</th>"
                   "<th data-type=text>true</th><th data-type=text>predicted</th>"
                   "<th data-type=number>p</th><th data-type=text>correct</th>")
        for method in methods:
            text.write(f"<th data-type=none>{html.escape(method)} map</th>"
                       f"<th data-type=number>{html.escape(method)} faithfulness</th>")
        text.write("</tr></thead><tbody>\n")
        failures = []
        for image in index.images(leave_out):
            if image["status"] != "done":
                failures.append((image["relpath"], image["error"]))
                continue
            rows = {r["method"]: r for r in index.method_rows(image["relpath"])}
            predicted = image["predictions"][0] if image["predictions"] else {}
            correct = _correct(image, predicted)
            mark = {"yes": "<td class=ok data-v=1>✓</td>", "no": "<td class=bad data-v=0>✗ misclassified</td>",
                    "": "<td data-v=''></td>"}[correct]
            name = html.escape(image["relpath"])
            text.write(f"<tr class='{'miss' if correct == 'no' else ''}'><td data-v='{name}'>"
                       f"{_img(image['thumbnail'])}<br>{name}</td>"
                       f"<td>{html.escape(image['true_name'] or '')}</td>"
                       f"<td>{html.escape(predicted.get('name', ''))}</td>"
                       f"<td data-v='{_number(predicted.get('probability'))}'>"
                       f"{_percent(predicted.get('probability'))}</td>{mark}")
            for method in methods:
                row = rows.get(method)
                if row is None or row["status"] != "done":
                    error = html.escape(row["error"] if row else "not computed")
                    text.write(f"<td class=bad>{error}</td><td data-v=''></td>")
                    if row is not None:
                        failures.append((f"{image['relpath']} ({method})", row["error"]))
                    continue
                score = faithfulness_score(row["scores"])
                shown = "" if score is None else f"{score:.3f}"
                if score is not None and _better_than_random(row["scores"] or {}) == "no":
                    shown += " (not better than random)"
                text.write(f"<td>{_img(row['thumbnail'])}</td>"
                           f"<td data-v='{_number(score)}'>{shown}</td>")
            text.write("</tr>\n")
        text.write("</tbody></table>")
        text.write(f"<h2>Failures ({len(failures)})</h2>")
        if failures:
            text.write("<ul class=failures>" + "".join(
                f"<li><b>{html.escape(n)}</b>: {html.escape(e or '')}</li>" for n, e in failures) + "</ul>")
        else:
            text.write("<p>none</p>")
        text.write("<p class=meta>faithfulness: symmetric relevance gain (SRG, −1 to 1, higher is better) "
                   "of the first explained class: how much faster the prediction falls when the "
                   "map's most relevant cells are blurred first than when its least relevant are; "
                   "marked when it is not above the random orders' band (mean + 2 sd); empty "
                   "without --metrics.</p>")
        text.write(_SCRIPT + "</body></html>\n")
        text.flush()
        text.detach()

    atomic_write(path, write)


def _images(count: int) -> str:
    return "image" if count == 1 else "images"


def _img(jpeg: bytes) -> str:
    if not jpeg:
        return ""
    return f"<img alt='' src='data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}'>"


def _correct(image: dict, predicted: dict) -> str:
    if not image.get("true_name") or not predicted:
        return ""
    return "yes" if predicted.get("name") == image["true_name"] else "no"


def _first(values):
    return values[0] if isinstance(values, list) and values else None


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _number(value) -> str:
    return "" if value is None else f"{float(value):.6g}"


def _percent(value) -> str:
    return "" if value is None else f"{float(value):.1%}"


_HEAD = """<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title} · batch report</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:20px;margin:0 0 4px} .meta{color:#666}
table{border-collapse:collapse} th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:middle}
th{background:#f3f3f3;position:sticky;top:0;cursor:pointer;user-select:none}
th.asc::after{content:" ▲"} th.desc::after{content:" ▼"}
tr.miss{background:#fff2f0} td.ok{color:#17803d} td.bad{color:#b42318}
img{display:block;border-radius:2px;width:64px;height:auto;image-rendering:pixelated}
</style></head><body>
"""

# Sorting by a column: numbers by value, text by name; empty cells last.
_SCRIPT = """<script>
document.querySelectorAll('#results th').forEach(function(th, col){
  if (th.dataset.type === 'none') return;
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var asc = !th.classList.contains('asc');
    th.parentNode.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
    th.classList.add(asc ? 'asc' : 'desc');
    var key = function(r){var c = r.cells[col]; return c.dataset.v !== undefined ? c.dataset.v : c.textContent;};
    rows.sort(function(a, b){
      var x = key(a), y = key(b);
      if (x === '' || y === '') return (x === '') - (y === '');
      var r = th.dataset.type === 'number' ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return asc ? r : -r;
    });
    rows.forEach(function(r){body.appendChild(r);});
  });
});
</script>"""
