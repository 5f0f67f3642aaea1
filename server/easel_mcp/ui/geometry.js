/* Easel mask painter: pure geometry and mask rasterisation (no DOM; unit-tested in the browser test).
 * A view maps image pixels to canvas (CSS) pixels: canvas = image * scale + pan.
 * A mask is a Uint8Array of width*height (1 = edit, 0 = keep) at the image's exact resolution; a pixel
 * belongs to a shape when its centre (x + 0.5, y + 0.5) does, so the mask is binary and reproducible. */
(() => {
  'use strict';

  /** @typedef {{scale: number, panX: number, panY: number}} View */
  /** @typedef {{x: number, y: number}} Point */
  /** @typedef {{x0: number, y0: number, x1: number, y1: number}} Rect pixel bounds, x1/y1 exclusive */
  /**
   * @typedef {{type: 'stroke', value: number, radius: number, points: number[]}
   *         | {type: 'rect' | 'ellipse', value: number, a: Point, b: Point}
   *         | {type: 'invert'} | {type: 'clear'}} Action
   */

  const MIN_SCALE = 1 / 64;
  const MAX_SCALE = 32;

  /** The view that shows the whole image centred in the canvas. @returns {View} */
  function fitView(/** @type {number} */ imageW, /** @type {number} */ imageH, /** @type {number} */ viewW,
    /** @type {number} */ viewH) {
    const scale = Math.min(viewW / imageW, viewH / imageH);
    return {scale, panX: (viewW - imageW * scale) / 2, panY: (viewH - imageH * scale) / 2};
  }

  /** @param {View} view @param {number} x @param {number} y canvas px @returns {Point} image px */
  function viewToImage(view, x, y) {
    return {x: (x - view.panX) / view.scale, y: (y - view.panY) / view.scale};
  }

  /** @param {View} view @param {number} x @param {number} y image px @returns {Point} canvas px */
  function imageToView(view, x, y) {
    return {x: x * view.scale + view.panX, y: y * view.scale + view.panY};
  }

  /**
   * Zoom by `factor` keeping the canvas point (cx, cy) over the same image pixel.
   * @param {View} view @param {number} factor @param {number} cx @param {number} cy @returns {View}
   */
  function zoomAt(view, factor, cx, cy) {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
    const anchor = viewToImage(view, cx, cy);
    return {scale, panX: cx - anchor.x * scale, panY: cy - anchor.y * scale};
  }

  /**
   * Keep the image on screen: centred along an axis where it is smaller than the canvas, else covering it.
   * @param {View} view @param {number} imageW @param {number} imageH @param {number} viewW @param {number} viewH
   * @returns {View}
   */
  function clampPan(view, imageW, imageH, viewW, viewH) {
    /** @param {number} pan @param {number} size @param {number} room */
    const axis = (pan, size, room) => (size <= room ? (room - size) / 2 : Math.min(0, Math.max(room - size, pan)));
    return {
      scale: view.scale,
      panX: axis(view.panX, imageW * view.scale, viewW),
      panY: axis(view.panY, imageH * view.scale, viewH),
    };
  }

  /** Pixel bounds of the box spanned by two image points, clipped to the image. @returns {Rect} */
  function rectBetween(/** @type {Point} */ a, /** @type {Point} */ b, /** @type {number} */ w, /** @type {number} */ h) {
    const clip = (/** @type {number} */ v, /** @type {number} */ max) => Math.min(max, Math.max(0, v));
    return {
      x0: clip(Math.round(Math.min(a.x, b.x)), w), y0: clip(Math.round(Math.min(a.y, b.y)), h),
      x1: clip(Math.round(Math.max(a.x, b.x)), w), y1: clip(Math.round(Math.max(a.y, b.y)), h),
    };
  }

  /** @param {Rect} a @param {Rect | null} b @returns {Rect} */
  function union(a, b) {
    if (!b) return a;
    return {x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1)};
  }

  /**
   * Set every pixel whose centre lies within `radius` of the segment a-b (a round-capped brush stroke).
   * @param {Uint8Array} mask @param {number} w @param {number} h @param {Point} a @param {Point} b
   * @param {number} radius @param {number} value @returns {Rect} the pixels it may have changed
   */
  function paintSegment(mask, w, h, a, b, radius, value) {
    const m = radius + 1;
    const bounds = rectBetween({x: Math.min(a.x, b.x) - m, y: Math.min(a.y, b.y) - m},
      {x: Math.max(a.x, b.x) + m, y: Math.max(a.y, b.y) + m}, w, h);
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len2 = dx * dx + dy * dy;
    const r2 = radius * radius;
    for (let y = bounds.y0; y < bounds.y1; y++) {
      const py = y + 0.5;
      for (let x = bounds.x0; x < bounds.x1; x++) {
        const px = x + 0.5;
        let t = len2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / len2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = a.x + t * dx - px;
        const ey = a.y + t * dy - py;
        if (ex * ex + ey * ey <= r2) mask[y * w + x] = value;
      }
    }
    return bounds;
  }

  /**
   * A brush stroke through `points` (flat [x0, y0, x1, y1, ...] in image px).
   * @param {Uint8Array} mask @param {number} w @param {number} h @param {number[]} points
   * @param {number} radius @param {number} value @returns {Rect}
   */
  function paintStroke(mask, w, h, points, radius, value) {
    let dirty = paintSegment(mask, w, h, {x: points[0], y: points[1]}, {x: points[0], y: points[1]}, radius, value);
    for (let i = 2; i + 1 < points.length; i += 2) {
      const a = {x: points[i - 2], y: points[i - 1]};
      dirty = union(dirty, paintSegment(mask, w, h, a, {x: points[i], y: points[i + 1]}, radius, value));
    }
    return dirty;
  }

  /** Fill the box (or the ellipse inscribed in it) spanned by a and b. @returns {Rect} */
  function paintShape(/** @type {Uint8Array} */ mask, /** @type {number} */ w, /** @type {number} */ h,
    /** @type {'rect' | 'ellipse'} */ type, /** @type {Point} */ a, /** @type {Point} */ b, /** @type {number} */ value) {
    const r = rectBetween(a, b, w, h);
    const cx = (Math.min(a.x, b.x) + Math.max(a.x, b.x)) / 2;
    const cy = (Math.min(a.y, b.y) + Math.max(a.y, b.y)) / 2;
    const rx = Math.abs(b.x - a.x) / 2;
    const ry = Math.abs(b.y - a.y) / 2;
    for (let y = r.y0; y < r.y1; y++) {
      const ny = ry > 0 ? (y + 0.5 - cy) / ry : 0;
      for (let x = r.x0; x < r.x1; x++) {
        const nx = rx > 0 ? (x + 0.5 - cx) / rx : 0;
        if (type === 'rect' || nx * nx + ny * ny <= 1) mask[y * w + x] = value;
      }
    }
    return r;
  }

  /** Apply one action to the mask. @param {Uint8Array} mask @param {number} w @param {number} h @param {Action} action */
  function applyAction(mask, w, h, action) {
    const all = {x0: 0, y0: 0, x1: w, y1: h};
    if (action.type === 'stroke') return paintStroke(mask, w, h, action.points, action.radius, action.value);
    if (action.type === 'rect' || action.type === 'ellipse') {
      return paintShape(mask, w, h, action.type, action.a, action.b, action.value);
    }
    if (action.type === 'invert') {
      for (let i = 0; i < mask.length; i++) mask[i] = mask[i] ? 0 : 1;
    } else {
      mask.fill(0);
    }
    return all;
  }

  /** The mask after `actions`, from an empty one (how undo rebuilds it). @returns {Uint8Array} */
  function replay(/** @type {Action[]} */ actions, /** @type {number} */ w, /** @type {number} */ h) {
    const mask = new Uint8Array(w * h);
    for (const action of actions) applyAction(mask, w, h, action);
    return mask;
  }

  /** @param {Uint8Array} mask @returns {number} pixels marked for editing */
  function countMarked(mask) {
    let n = 0;
    for (let i = 0; i < mask.length; i++) n += mask[i];
    return n;
  }

  /**
   * Write the mask into RGBA pixels (e.g. an ImageData's data) for `rect`.
   * @param {Uint8Array} mask @param {number} w @param {Uint8ClampedArray} rgba @param {Rect} rect
   * @param {number[]} on RGBA of marked pixels @param {number[]} off RGBA of the others
   */
  function toRGBA(mask, w, rgba, rect, on, off) {
    for (let y = rect.y0; y < rect.y1; y++) {
      for (let x = rect.x0; x < rect.x1; x++) {
        const i = y * w + x;
        const c = mask[i] ? on : off;
        rgba[i * 4] = c[0];
        rgba[i * 4 + 1] = c[1];
        rgba[i * 4 + 2] = c[2];
        rgba[i * 4 + 3] = c[3];
      }
    }
  }

  /** @type {any} */ (globalThis).EaselGeometry = {
    MIN_SCALE, MAX_SCALE, fitView, viewToImage, imageToView, zoomAt, clampPan, rectBetween, union,
    paintSegment, paintStroke, paintShape, applyAction, replay, countMarked, toRGBA,
  };
})();
