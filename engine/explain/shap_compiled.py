"""shap's compiled Partition helpers, kept in numba's disk cache instead of compiled per process.

shap compiles its numba helpers on first use in every process: about 6 s on a 2-core CPU
before the first SHAP explanation of a command-line run (and of the window's warm-up). Three
of them cannot be cached as shap writes them: the masked model's output builder takes the
link function (itself a numba function) as an argument, ``lower_credit`` recurses with
changing argument types (a cached copy crashes when loaded), and ``make_masks`` recurses.
Here are cacheable equivalents that do the same arithmetic in the same order, so every
number is unchanged (``tests/engine/test_shap_compiled.py`` compares them with shap's own);
``install()`` puts them where shap looks them up. Cases they do not cover (another link
function, linearised links, single outputs, unusual trees) go to shap's originals.
"""

from __future__ import annotations

import threading

import numpy as np

from engine.numba_cache import cached_njit, keep_in_disk_cache

jit = cached_njit(nogil=True)
_installed = False
_install_lock = threading.Lock()
ORIGINALS: dict = {}  # name -> shap's own function, for fall-backs and tests


@jit
def _identity_multi_output(averaged_outs, last_outs, outputs, batch_positions, varying_rows,
                           num_varying_rows):
    """shap's ``_build_fixed_multi_output`` with the identity link and no linearising weights:
    each mask's output is the mean over the masker's samples of the latest outputs."""
    sample_count = last_outs.shape[0]
    for i in range(len(averaged_outs)):
        start, end = batch_positions[i], batch_positions[i + 1]
        if start < end:
            if num_varying_rows[i] == sample_count:
                last_outs[:] = outputs[start:end]
            else:
                last_outs[varying_rows[i]] = outputs[start:end]
            for j in range(last_outs.shape[-1]):
                averaged_outs[i, j] = np.mean(last_outs[:, j])
        else:
            averaged_outs[i] = averaged_outs[i - 1]  # the same mask again: same output


def build_fixed_output(averaged_outs, last_outs, outputs, batch_positions, varying_rows,
                       num_varying_rows, link, linearizing_weights):
    """Drop-in for ``shap.utils._masked_model._build_fixed_output``."""
    import shap

    if link is shap.links.identity and linearizing_weights is None and last_outs.ndim == 2:
        upcast = ORIGINALS["upcast_array"]
        _identity_multi_output(upcast(averaged_outs), upcast(last_outs), upcast(outputs),
                               batch_positions, varying_rows, num_varying_rows)
    else:
        ORIGINALS["build_fixed_output"](averaged_outs, last_outs, outputs, batch_positions,
                                        varying_rows, num_varying_rows, link, linearizing_weights)


@jit
def lower_credit(i, value, M, values, clustering):
    """Drop-in for ``shap.explainers._partition.lower_credit``: each group's credit flows to its
    two halves in proportion to their sizes, down to the single features. A walk with a
    stack instead of recursion; every node still gets ``parent × size / group size``."""
    values[i] += value
    stack = np.empty(max(1, 2 * len(clustering) + 1), np.int64)
    stack[0] = i
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        if node < M:
            continue
        group = node - M
        left, right = int(clustering[group, 0]), int(clustering[group, 1])
        group_size = int(clustering[group, 3])
        left_size = int(clustering[left - M, 3]) if left >= M else 1
        right_size = int(clustering[right - M, 3]) if right >= M else 1
        assert left_size + right_size == group_size
        values[left] += values[node] * left_size / group_size
        values[right] += values[node] * right_size / group_size
        stack[top] = right
        stack[top + 1] = left
        top += 2


@jit
def _children_first(cluster_matrix, M) -> bool:
    for group in range(len(cluster_matrix)):
        if cluster_matrix[group, 0] >= group + M or cluster_matrix[group, 1] >= group + M:
            return False
    return True


@jit
def _fill_masks(cluster_matrix, indptr, M):
    """Each node's features in shap's order (left half, then right), children before parents."""
    indices = np.zeros(indptr[-1], np.int64)
    for leaf in range(M):
        indices[indptr[leaf]] = leaf
    for group in range(len(cluster_matrix)):
        start = indptr[group + M]
        left, right = int(cluster_matrix[group, 0]), int(cluster_matrix[group, 1])
        left_size = indptr[left + 1] - indptr[left]
        right_size = indptr[right + 1] - indptr[right]
        indices[start:start + left_size] = indices[indptr[left]:indptr[left] + left_size]
        indices[start + left_size:start + left_size + right_size] = \
            indices[indptr[right]:indptr[right] + right_size]
    return indices


def make_masks(cluster_matrix):
    """Drop-in for ``shap.utils.make_masks``: the CSR matrix of the features under each node."""
    import scipy.sparse

    M = cluster_matrix.shape[0] + 1
    if not _children_first(cluster_matrix, M):
        return ORIGINALS["make_masks"](cluster_matrix)
    sizes = np.concatenate([np.ones(M, np.int64), cluster_matrix[:, 3].astype(np.int64)])
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    indices = _fill_masks(cluster_matrix, indptr, M)
    return scipy.sparse.csr_matrix((np.ones(len(indices), dtype=bool), indices, indptr),
                                   shape=(2 * M - 1, M))


def install() -> None:
    """Put the cacheable helpers where shap's Partition explainer looks them up (once)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        import shap.explainers._partition as partition
        import shap.maskers._image as image_masker
        import shap.utils._masked_model as masked_model

        ORIGINALS.update(build_fixed_output=masked_model._build_fixed_output,
                         upcast_array=masked_model._upcast_array,
                         lower_credit=partition.lower_credit,
                         make_masks=partition.make_masks)
        masked_model._build_fixed_output = build_fixed_output
        partition.lower_credit = lower_credit
        partition.make_masks = make_masks
        # The image masker's partition tree builder caches as shap wrote it; it only needs asking.
        keep_in_disk_cache(image_masker._jit_build_partition_tree)
        _installed = True
