"""Telea inpainting (``cv2.inpaint(..., cv2.INPAINT_TELEA)``): the same bytes, in less time.

SHAP's ``inpaint_telea`` masker fills hundreds of masks per explanation, and that was most of
SHAP's time outside the model. OpenCV computes each known neighbour's weight (two float64
divisions and a square root) once per colour channel, and shap wraps each call in a few
whole-image numpy conversions. Here each weight is computed once for the three channels, the
distance term comes from a table, and the masker path is one compiled pass.

Every step keeps OpenCV's order of operations and precision (float32 where it uses float,
float64 where it uses double, the same queue order for equal arrival times, the same
rounding), so the output is cv2.inpaint's image byte for byte: ``tests/engine/test_telea.py``
compares them on random, edge-case and real SHAP masks. Written against OpenCV 5.0's
``modules/photo/src/inpaint.cpp``; a change there shows up in those tests.

Only what SHAP's masker calls is covered: 8-bit, 3-channel images, radius 3. Anything else
goes to ``cv2.inpaint``.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from engine.numba_cache import cached_njit

KNOWN, BAND, INSIDE, CHANGE = 0, 1, 2, 3
RADIUS = 3
_FAR = np.float32(1.0e6)
f32 = np.float32


# Compiled once, then loaded from numba's disk cache (~0.3 s instead of ~8).
jit = cached_njit(nogil=True, fastmath=False)


def inpaint(image: np.ndarray, mask: np.ndarray, radius: int = RADIUS) -> np.ndarray:
    """``cv2.inpaint(image, mask, radius, cv2.INPAINT_TELEA)`` for (H, W, 3) uint8 images."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or radius != RADIUS \
            or mask.shape != image.shape[:2]:
        import cv2

        return cv2.inpaint(image, mask.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    warm_up()
    return inpaint3(np.ascontiguousarray(image), np.ascontiguousarray(mask != 0), radius)


def shap_masked_image(image: np.ndarray, keep: np.ndarray) -> np.ndarray | None:
    """What ``shap.maskers.Image("inpaint_telea", shape)(keep, image)`` returns, flattened:
    a pixel is filled when any of its channels is hidden. None when every pixel is hidden
    (shap then paints the mean colour; the caller leaves that case to shap)."""
    warm_up()
    hole, hidden = hole_of(keep, image.shape[0], image.shape[1], image.shape[2])
    if hidden == hole.size:
        return None
    return inpaint3(image, hole, RADIUS).reshape(-1)


_compiled = False
_compile_lock = threading.Lock()


def warm_up() -> None:
    """Compile (or load from numba's disk cache) now, by one thread, not mid-explanation."""
    global _compiled
    if _compiled:  # every mask passes here: no lock once compiled
        return
    with _compile_lock:
        if not _compiled:
            inpaint3(np.zeros((4, 4, 3), np.uint8), np.eye(4, dtype=np.bool_), RADIUS)
            hole_of(np.ones(48, np.bool_), 4, 4, 3)
            _compiled = True


# -- a stable priority queue ---------------------------------------------------------------
# One uint64 per entry: the arrival time's bits (mapped so that integer order is float
# order) above the insertion number. Smallest key = earliest time, first pushed among ties,
# which is the order OpenCV's queue pops in. The pixel of each entry is kept by number.


@jit
def _push(keys, cells, bits, size, seq, cell, time):
    bits[0] = time + f32(0.0)  # -0.0 becomes +0.0: they compare equal as floats
    u = np.uint64(bits.view(np.uint32)[0])
    if u >> np.uint64(31):
        u = u ^ np.uint64(0xFFFFFFFF)
    else:
        u = u | np.uint64(0x80000000)
    key = (u << np.uint64(32)) | np.uint64(seq)
    cells[seq] = cell
    n = size
    while n > 0:
        parent = (n - 1) >> 1
        if keys[parent] <= key:
            break
        keys[n] = keys[parent]
        n = parent
    keys[n] = key
    return size + 1


@jit
def _pop(keys, size):
    """The smallest key's insertion number, and the heap's new size."""
    top = keys[0]
    size -= 1
    last = keys[size]
    n = 0
    while True:
        child = 2 * n + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if last <= keys[child]:
            break
        keys[n] = keys[child]
        n = child
    keys[n] = last
    return np.int64(top & np.uint64(0xFFFFFFFF)), size


@jit
def _queue_from(band, capacity):
    """A queue holding the narrow band's pixels, all at time 0, in raster order."""
    keys = np.empty(capacity, np.uint64)
    cells = np.empty(capacity, np.int64)
    bits = np.empty(1, np.float32)
    size = 0
    for n in range(band.size):
        size = _push(keys, cells, bits, size, n, band[n], f32(0.0))
    return keys, cells, bits, size


@jit
def _neighbour(ii, jj, q):
    """The q-th 4-neighbour of (ii, jj), in OpenCV's order: above, left, below, right."""
    if q == 0:
        return ii - 1, jj
    if q == 1:
        return ii, jj - 1
    if q == 2:
        return ii + 1, jj
    return ii, jj + 1

# -- fast marching --------------------------------------------------------------------------


@jit
def _solve(i1, j1, i2, j2, flags, t):
    # float64 throughout, as OpenCV's solver, then one rounding to float32.
    a11 = np.float64(t[i1, j1])
    a22 = np.float64(t[i2, j2])
    m12 = min(a11, a22)
    if flags[i1, j1] != INSIDE:
        if flags[i2, j2] != INSIDE:
            if abs(a11 - a22) >= 1.0:
                sol = 1.0 + m12
            else:
                sol = (a11 + a22 + math.sqrt(2.0 - (a11 - a22) * (a11 - a22))) * 0.5
        else:
            sol = 1.0 + a11
    elif flags[i2, j2] != INSIDE:
        sol = 1.0 + a22
    else:
        sol = 1.0 + m12
    return f32(sol)


@jit
def _arrival(i, j, flags, t):
    a = min(_solve(i - 1, j, i, j - 1, flags, t), _solve(i + 1, j, i, j - 1, flags, t))
    b = min(_solve(i - 1, j, i, j + 1, flags, t), _solve(i + 1, j, i, j + 1, flags, t))
    return min(a, b)


@jit
def _outside_distances(flags, t, band, rows, cols):
    """Distances from the mask outward over the ring the weights read, stored negative."""
    keys, cells, bits, size = _queue_from(band, flags.size)
    seq = size
    while size > 0:
        number, size = _pop(keys, size)
        ii, jj = divmod(cells[number], cols)
        flags[ii, jj] = CHANGE
        for q in range(4):
            i, j = _neighbour(ii, jj, q)
            if i <= 0 or j <= 0 or i > rows or j > cols:
                continue
            if flags[i, j] == INSIDE:
                dist = _arrival(i, j, flags, t)
                t[i, j] = dist
                flags[i, j] = BAND
                size = _push(keys, cells, bits, size, seq, i * cols + j, dist)
                seq += 1
    for i in range(rows):
        for j in range(cols):
            if flags[i, j] == CHANGE:
                t[i, j] = -t[i, j]


@jit
def _pixel(ia, jx, jy, s):
    """The filled value: OpenCV's formula, then its rounding (add 0.5, round half to even,
    clamp to 0..255)."""
    sat = ia / s + (jx + jy) / (f32(math.sqrt(jx * jx + jy * jy)) + f32(1.0e-20))  # float32
    value = np.rint(np.float64(sat) + 0.5)
    if not (value >= 0.0):
        return np.uint8(0)
    if value > 255.0:
        return np.uint8(255)
    return np.uint8(value)


@jit
def _march(flags, t, out, band, disk, inv_dist):
    rows, cols = flags.shape
    keys, cells, bits, size = _queue_from(band, flags.size)
    seq = size
    while size > 0:
        number, size = _pop(keys, size)
        ii, jj = divmod(cells[number], cols)
        flags[ii, jj] = KNOWN
        for q in range(4):
            i, j = _neighbour(ii, jj, q)
            if i <= 0 or j <= 0 or i > rows - 1 or j > cols - 1:
                continue
            if flags[i, j] != INSIDE:
                continue
            dist = _arrival(i, j, flags, t)
            t[i, j] = dist
            tij = t[i, j]
            # Gradient of the arrival time at (i, j).
            if flags[i, j + 1] != INSIDE:
                if flags[i, j - 1] != INSIDE:
                    gtx = (t[i, j + 1] - t[i, j - 1]) * f32(0.5)
                else:
                    gtx = t[i, j + 1] - tij
            else:
                if flags[i, j - 1] != INSIDE:
                    gtx = tij - t[i, j - 1]
                else:
                    gtx = f32(0.0)
            if flags[i + 1, j] != INSIDE:
                if flags[i - 1, j] != INSIDE:
                    gty = (t[i + 1, j] - t[i - 1, j]) * f32(0.5)
                else:
                    gty = t[i + 1, j] - tij
            else:
                if flags[i - 1, j] != INSIDE:
                    gty = tij - t[i - 1, j]
                else:
                    gty = f32(0.0)
            # One pass over the known neighbours: the weight once, then each channel.
            ia0 = ia1 = ia2 = f32(0.0)
            jx0 = jx1 = jx2 = f32(0.0)
            jy0 = jy1 = jy2 = f32(0.0)
            s = f32(1.0e-20)
            for n in range(disk.shape[0]):  # the disk's offsets, in OpenCV's scan order
                k = i + disk[n, 0]
                l = j + disk[n, 1]
                if k <= 0 or k >= rows - 1 or l <= 0 or l >= cols - 1 or flags[k, l] == INSIDE:
                    continue
                km = k - 1 + (1 if k == 1 else 0)
                kp = k - 1 - (1 if k == rows - 2 else 0)
                ry = f32(i - k)
                rx = f32(j - l)
                lev = f32(1.0 / (1.0 + abs(np.float64(t[k, l] - tij))))
                direction = rx * gtx + ry * gty
                if abs(direction) <= 0.01:
                    direction = f32(0.000001)
                w = abs(inv_dist[n] * lev * direction)
                lm = l - 1 + (1 if l == 1 else 0)
                lp = l - 1 - (1 if l == cols - 2 else 0)
                # OpenCV's image gradient, its scale factors included: a central difference
                # (x2) when both neighbours are known, a one-sided one when one is, else 0.
                # Written without branches (the front makes them unpredictable); a gradient
                # of 0 only ever differs from OpenCV's in the sign of a zero, which no filled
                # value can show.
                right = np.int64(flags[k, l + 1] != INSIDE)
                left = np.int64(flags[k, l - 1] != INSIDE)
                xa = lp + right
                xb = lm - left
                xs = f32(right + left)
                below = np.int64(flags[k + 1, l] != INSIDE)
                above = np.int64(flags[k - 1, l] != INSIDE)
                ya = kp + below
                yb = km - above
                ys = f32(below + above)
                px = k - 1
                py = l - 1
                # Channel 0, 1, 2 written out: the sums stay in registers.
                gx0 = f32(np.int32(out[km, xa, 0]) - np.int32(out[km, xb, 0])) * xs
                gx1 = f32(np.int32(out[km, xa, 1]) - np.int32(out[km, xb, 1])) * xs
                gx2 = f32(np.int32(out[km, xa, 2]) - np.int32(out[km, xb, 2])) * xs
                gy0 = f32(np.int32(out[ya, lm, 0]) - np.int32(out[yb, lm, 0])) * ys
                gy1 = f32(np.int32(out[ya, lm, 1]) - np.int32(out[yb, lm, 1])) * ys
                gy2 = f32(np.int32(out[ya, lm, 2]) - np.int32(out[yb, lm, 2])) * ys
                ia0 += w * f32(out[px, py, 0])
                ia1 += w * f32(out[px, py, 1])
                ia2 += w * f32(out[px, py, 2])
                jx0 -= w * (gx0 * rx)
                jx1 -= w * (gx1 * rx)
                jx2 -= w * (gx2 * rx)
                jy0 -= w * (gy0 * ry)
                jy1 -= w * (gy1 * ry)
                jy2 -= w * (gy2 * ry)
                s += w
            out[i - 1, j - 1, 0] = _pixel(ia0, jx0, jy0, s)
            out[i - 1, j - 1, 1] = _pixel(ia1, jx1, jy1, s)
            out[i - 1, j - 1, 2] = _pixel(ia2, jx2, jy2, s)
            flags[i, j] = BAND
            size = _push(keys, cells, bits, size, seq, i * cols + j, dist)
            seq += 1


@jit
def inpaint3(image, hole, radius):
    """Fills ``hole`` (H, W bool) of ``image`` (H, W, 3 uint8); a new image."""
    height, width = hole.shape
    rows, cols = height + 2, width + 2  # one pixel of border all round, as OpenCV
    inside = np.zeros((rows, cols), np.bool_)
    inside[1:-1, 1:-1] = hole
    # Within `radius` (a square) of the hole, one pass along rows, one along columns.
    near_row = np.zeros((rows, cols), np.bool_)
    for i in range(rows):
        last = -radius - 1
        for j in range(cols):
            if inside[i, j]:
                last = j
            near_row[i, j] = j - last <= radius
        last = cols + radius + 1
        for j in range(cols - 1, -1, -1):
            if inside[i, j]:
                last = j
            if last - j <= radius:
                near_row[i, j] = True
    t = np.full((rows, cols), _FAR, np.float32)
    flags = np.zeros((rows, cols), np.uint8)  # KNOWN
    band_count = 0
    for i in range(1, rows - 1):
        for j in range(1, cols - 1):
            if inside[i, j]:
                continue
            if inside[i - 1, j] or inside[i + 1, j] or inside[i, j - 1] or inside[i, j + 1]:
                # The narrow band: a 4-neighbour of the hole.
                t[i, j] = f32(0.0)
                flags[i, j] = BAND
                band_count += 1
                continue
            for k in range(max(0, i - radius), min(rows, i + radius + 1)):
                if near_row[k, j]:
                    # The ring outside the band whose distances the weights read.
                    flags[i, j] = INSIDE
                    break
    band = np.empty(band_count, np.int64)
    n = 0
    for i in range(rows):
        for j in range(cols):
            if flags[i, j] == BAND:
                band[n] = i * cols + j
                n += 1
                flags[i, j] = KNOWN
    _outside_distances(flags, t, band, rows, cols)
    for i in range(rows):
        for j in range(cols):
            flags[i, j] = INSIDE if inside[i, j] else KNOWN
    out = image.copy()
    disk, inv_dist = _disk(radius)
    _march(flags, t, out, band, disk, inv_dist)
    return out


@jit
def _disk(radius):
    """Offsets (row, column) within `radius`, row by row, and OpenCV's 1 / |r|^3 for each."""
    offsets = np.empty(((2 * radius + 1) ** 2, 2), np.int64)
    inv_dist = np.empty((2 * radius + 1) ** 2, np.float32)
    n = 0
    for dk in range(-radius, radius + 1):
        for dl in range(-radius, radius + 1):
            if dk * dk + dl * dl > radius * radius or (dk == 0 and dl == 0):
                continue
            offsets[n, 0] = dk
            offsets[n, 1] = dl
            length = f32(f32(dl) * f32(dl) + f32(dk) * f32(dk))
            inv_dist[n] = f32(1.0 / (np.float64(length) * math.sqrt(np.float64(length))))
            n += 1
    return offsets[:n], inv_dist[:n]


@jit
def hole_of(keep, height, width, channels):
    hole = np.zeros((height, width), np.bool_)
    hidden = 0
    n = 0
    for i in range(height):
        for j in range(width):
            for c in range(channels):
                if not keep[n + c]:
                    hole[i, j] = True
            n += channels
            if hole[i, j]:
                hidden += 1
    return hole, hidden


