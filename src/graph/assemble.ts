/**
 * GraphAssembler: the low-level machinery shared by all builders. A builder allocates node ranges
 * (`alloc`) in the official node order and declares edge blocks (`dense`, `diag`) in the official edge
 * order; `finish()` sizes and fills the typed arrays in one pass (no per-edge JS objects).
 *
 * Dense block: edge j = i*nOut + o (input-major, README §2) joins row node r(i) = rowMap?.[i] ?? rowStart+i
 * and column node c(o) = colMap?.[o] ?? colStart+o; source→target is r→c, or c→r when `swap` (GPT's
 * transposed k block). Slot f < K of a parameter edge holds `off + i*sI + o*sO + f*sF`.
 * Diag block: edge j joins rowStart+j → colStart+j (residual edges).
 */
import type { ParamLayout } from '../core/params.ts';
import { EdgeType, type GraphEntry, type NeuralGraph } from './types.ts';

export interface ParamMap {
  off: number;
  sI: number;
  sO: number;
  sF: number;
  /** slots used (kernel numel; 1 for fc/bias) */
  K: number;
}

interface Block {
  name: string;
  shape: number[];
  paramType: number;
  paramName: string | null;
  kind: 'dense' | 'diag';
  rowStart: number;
  nIn: number;
  colStart: number;
  nOut: number;
  rowMap?: Int32Array;
  colMap?: Int32Array;
  swap: boolean;
  param: ParamMap | null;
  /** constant for slot 0 of param-less edges */
  auxConst: number;
}

export interface DenseArgs {
  name: string;
  shape: number[];
  paramType: number;
  /** original tensor name, null for aux edges */
  paramName: string | null;
  rowStart?: number;
  nIn: number;
  colStart?: number;
  nOut: number;
  rowMap?: Int32Array;
  colMap?: Int32Array;
  swap?: boolean;
  param: ParamMap | null;
}

export class GraphAssembler {
  numNodes = 0;
  private blocks: Block[] = [];
  private maxK = 1;

  constructor(
    readonly arch: string,
    readonly layout: ParamLayout,
  ) {}

  /** Allocates `n` consecutive nodes, returns the first id. */
  alloc(n: number): number {
    const s = this.numNodes;
    this.numNodes += n;
    return s;
  }

  dense(a: DenseArgs): void {
    if (a.param && a.param.K > this.maxK) this.maxK = a.param.K;
    this.blocks.push({
      name: a.name,
      shape: a.shape,
      paramType: a.paramType,
      paramName: a.paramName,
      kind: 'dense',
      rowStart: a.rowStart ?? 0,
      nIn: a.nIn,
      colStart: a.colStart ?? 0,
      nOut: a.nOut,
      rowMap: a.rowMap,
      colMap: a.colMap,
      swap: a.swap ?? false,
      param: a.param,
      auxConst: 1,
    });
  }

  /** n residual-style edges rowStart+j → colStart+j with constant 1 in slot 0 */
  diag(name: string, shape: number[], paramType: number, rowStart: number, colStart: number, n: number): void {
    this.blocks.push({
      name,
      shape,
      paramType,
      paramName: null,
      kind: 'diag',
      rowStart,
      nIn: n,
      colStart,
      nOut: n,
      swap: false,
      param: null,
      auxConst: 1,
    });
  }

  finish(opts: { maxFeat?: number; selfLoops?: boolean; posW?: Int32Array }): NeuralGraph {
    const F = opts.maxFeat ?? this.maxK;
    if (F < this.maxK) throw new Error(`maxFeat ${F} is smaller than the largest kernel (${this.maxK} slots)`);
    const N = this.numNodes;
    const selfLoops = opts.selfLoops ?? true;
    let Ep = 0;
    for (const b of this.blocks) Ep += b.kind === 'dense' ? b.nIn * b.nOut : b.nIn;
    const E = Ep + (selfLoops ? N : 0);
    const edgeIndex = new Int32Array(2 * E);
    const edgeType = new Int32Array(E);
    const epi = new Int32Array(E * F).fill(-1);
    const ec = new Float32Array(E * F);
    const entries: GraphEntry[] = [];
    let e = 0;
    for (const b of this.blocks) {
      const start = e;
      let sMin: number, sMax: number, dMin: number, dMax: number;
      if (b.kind === 'diag') {
        for (let j = 0; j < b.nIn; j++, e++) {
          edgeIndex[e] = b.rowStart + j;
          edgeIndex[E + e] = b.colStart + j;
          ec[e * F] = b.auxConst;
        }
        sMin = b.rowStart;
        sMax = b.rowStart + b.nIn - 1;
        dMin = b.colStart;
        dMax = b.colStart + b.nIn - 1;
      } else {
        const { nIn, nOut, rowMap, colMap, rowStart, colStart, param } = b;
        const srcArr = b.swap ? E : 0;
        const dstArr = b.swap ? 0 : E;
        for (let i = 0; i < nIn; i++) {
          const r = rowMap ? rowMap[i] : rowStart + i;
          for (let o = 0; o < nOut; o++, e++) {
            edgeIndex[srcArr + e] = r;
            edgeIndex[dstArr + e] = colMap ? colMap[o] : colStart + o;
          }
        }
        if (param) {
          const { off, sI, sO, sF, K } = param;
          let s = start * F;
          for (let i = 0; i < nIn; i++) {
            const bi = off + i * sI;
            for (let o = 0; o < nOut; o++, s += F) {
              const bo = bi + o * sO;
              for (let f = 0; f < K; f++) epi[s + f] = bo + f * sF;
            }
          }
        } else {
          for (let x = start; x < e; x++) ec[x * F] = b.auxConst;
        }
        const rMin = rowMap ? minOf(rowMap) : rowStart,
          rMax = rowMap ? maxOf(rowMap) : rowStart + nIn - 1;
        const cMin = colMap ? minOf(colMap) : colStart,
          cMax = colMap ? maxOf(colMap) : colStart + nOut - 1;
        if (b.swap) {
          sMin = cMin;
          sMax = cMax;
          dMin = rMin;
          dMax = rMax;
        } else {
          sMin = rMin;
          sMax = rMax;
          dMin = cMin;
          dMax = cMax;
        }
      }
      edgeType.fill(b.paramType, start, e);
      entries.push({
        name: b.name,
        shape: b.shape,
        paramType: b.paramType,
        edgeStart: start,
        edgeEnd: e,
        hasParams: b.param !== null,
        paramName: b.paramName,
        srcMin: sMin,
        srcMax: sMax,
        dstMin: dMin,
        dstMax: dMax,
      });
    }
    const firstSelfLoopEdge = e;
    if (selfLoops) {
      for (let n = 0; n < N; n++, e++) {
        edgeIndex[e] = n;
        edgeIndex[E + e] = n;
        edgeType[e] = EdgeType.selfLoop;
        ec[e * F] = 2;
      }
    }
    // inverse map; checks that every parameter appears exactly once
    const P = this.layout.total;
    const paramSlot = new Int32Array(P).fill(-1);
    for (let s = 0; s < epi.length; s++) {
      const p = epi[s];
      if (p < 0) continue;
      if (p >= P) throw new Error(`${this.arch} graph: parameter index ${p} out of range (${P} params)`);
      if (paramSlot[p] !== -1) throw new Error(`${this.arch} graph: parameter ${p} mapped to two edge slots`);
      paramSlot[p] = s;
    }
    for (let p = 0; p < P; p++) {
      if (paramSlot[p] === -1) {
        const t = this.layout.entries.find((x) => p >= x.offset && p < x.offset + x.numel);
        throw new Error(`${this.arch} graph: parameter ${p} (${t?.name}) is not covered by any edge`);
      }
    }
    return {
      arch: this.arch,
      numNodes: N,
      numEdges: E,
      maxFeat: F,
      edgeIndex,
      edgeType,
      edgeParamIndex: epi,
      edgeConst: ec,
      posW: opts.posW ?? new Int32Array(N),
      firstSelfLoopEdge,
      entries,
      layout: this.layout,
      paramSlot,
    };
  }
}

function minOf(a: Int32Array): number {
  let m = Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] < m) m = a[i];
  return m;
}
function maxOf(a: Int32Array): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}
