// Plain-JS reference implementations of the three training kernels the tfjs
// WASM backend lacks. They read and write Float32Arrays directly (views on the
// WASM heap or ordinary arrays), so no tfjs op runs inside a kernel and no
// reference counting is involved. NHWC, dilation 1.
//
// Geometry for all three comes from tfjs' own convInfo (padInfo.top/left,
// strides, out sizes), so 'same'/'valid'/explicit padding agree with tfjs.

/** Geometry of a 2-D convolution in NHWC (from tfjs backend_util.Conv2DInfo). */
export interface ConvGeom {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  /** output channels; for depthwise = inC * multiplier */
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

/** dW[ky,kx,ci,co] = sum_{n,oy,ox} x[n,iy,ix,ci] * dy[n,oy,ox,co]; dW is overwritten. */
export function conv2dBackpropFilterJs(g: ConvGeom, x: Float32Array, dy: Float32Array, dW: Float32Array): void {
  const { batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft } = g;
  dW.fill(0);
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const dyBase = ((n * outH + oy) * outW + ox) * outC;
        for (let ky = 0; ky < kH; ky++) {
          const iy = oy * strideH + ky - padTop;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < kW; kx++) {
            const ix = ox * strideW + kx - padLeft;
            if (ix < 0 || ix >= inW) continue;
            const xBase = ((n * inH + iy) * inW + ix) * inC;
            const wBase = (ky * kW + kx) * inC * outC;
            for (let ci = 0; ci < inC; ci++) {
              const xv = x[xBase + ci];
              if (xv === 0) continue;
              const wb = wBase + ci * outC;
              for (let co = 0; co < outC; co++) dW[wb + co] += xv * dy[dyBase + co];
            }
          }
        }
      }
    }
  }
}

/**
 * Depthwise filter gradient, filter [kH,kW,inC,mult]:
 * dW[ky,kx,c,m] = sum x[n,iy,ix,c] * dy[n,oy,ox,c*mult+m]; dW is overwritten.
 */
export function depthwiseBackpropFilterJs(g: ConvGeom, x: Float32Array, dy: Float32Array, dW: Float32Array): void {
  const { batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft } = g;
  const mult = outC / inC;
  dW.fill(0);
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const dyBase = ((n * outH + oy) * outW + ox) * outC;
        for (let ky = 0; ky < kH; ky++) {
          const iy = oy * strideH + ky - padTop;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < kW; kx++) {
            const ix = ox * strideW + kx - padLeft;
            if (ix < 0 || ix >= inW) continue;
            const xBase = ((n * inH + iy) * inW + ix) * inC;
            const wBase = (ky * kW + kx) * outC;
            if (mult === 1) {
              for (let c = 0; c < inC; c++) dW[wBase + c] += x[xBase + c] * dy[dyBase + c];
            } else {
              for (let c = 0; c < inC; c++) {
                const xv = x[xBase + c];
                for (let m = 0; m < mult; m++) dW[wBase + c * mult + m] += xv * dy[dyBase + c * mult + m];
              }
            }
          }
        }
      }
    }
  }
}

/** Depthwise input gradient: dx[n,iy,ix,c] = sum dy[n,oy,ox,c*mult+m] * w[ky,kx,c,m]; dx is overwritten. */
export function depthwiseBackpropInputJs(g: ConvGeom, dy: Float32Array, w: Float32Array, dx: Float32Array): void {
  const { batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft } = g;
  const mult = outC / inC;
  dx.fill(0);
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const dyBase = ((n * outH + oy) * outW + ox) * outC;
        for (let ky = 0; ky < kH; ky++) {
          const iy = oy * strideH + ky - padTop;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < kW; kx++) {
            const ix = ox * strideW + kx - padLeft;
            if (ix < 0 || ix >= inW) continue;
            const xBase = ((n * inH + iy) * inW + ix) * inC;
            const wBase = (ky * kW + kx) * outC;
            if (mult === 1) {
              for (let c = 0; c < inC; c++) dx[xBase + c] += dy[dyBase + c] * w[wBase + c];
            } else {
              for (let c = 0; c < inC; c++) {
                let s = 0;
                for (let m = 0; m < mult; m++) s += dy[dyBase + c * mult + m] * w[wBase + c * mult + m];
                dx[xBase + c] += s;
              }
            }
          }
        }
      }
    }
  }
}
