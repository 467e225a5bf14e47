/**
 * Sequential MLP / CNN neural graph (official `graph/graph.py: NeuralGraph` with
 * model_first_dim_out=True, use_param_types=True, self_loops=True). Also the generic fallback builder.
 *
 * The spec list is read as consecutive layers: each tensor with >= 2 dims is a weight (out, in, *kernel)
 * (or (in, out) with modelFirstDimOut=false) mapping the current neuron group to a new group; each 1-D
 * tensor that follows it (bias, norm weight/bias) gets one extra "bias node" connected to every output
 * neuron. Node order: input neurons, then per layer [its bias nodes][its output neurons] (README §2).
 * Edge types: conv (>2 dims) 3, fc 1, 1-D `*.bias` 2, other 1-D (norm weights) 4.
 *
 *   const g = buildSequentialGraph([{ name: 'fc.0.weight', shape: [16, 1, 3, 3] }, ...], {});
 */
import { makeLayout, type ParamSpec } from '../core/params.ts';
import { GraphAssembler } from './assemble.ts';
import { EdgeType, type GraphBuildOptions, type NeuralGraph } from './types.ts';

export function buildSequentialGraph(
  specs: readonly ParamSpec[],
  opts: GraphBuildOptions = {},
  arch = 'mlp',
): NeuralGraph {
  const layout = makeLayout(specs);
  const g = new GraphAssembler(arch, layout);
  const firstOut = opts.modelFirstDimOut ?? true;
  const ents = layout.entries;
  if (ents.length === 0) throw new Error(`${arch} graph: empty parameter list`);
  if (ents[0].shape.length < 2)
    throw new Error(
      `${arch} graph: first tensor '${ents[0].name}' must be a weight (>= 2 dims), got shape [${ents[0].shape}]`,
    );
  let curStart = -1;
  let curSize = 0;
  let i = 0;
  while (i < ents.length) {
    const w = ents[i];
    if (w.shape.length < 2) throw new Error(`${arch} graph: unexpected 1-D tensor '${w.name}'`);
    const nOut = firstOut ? w.shape[0] : w.shape[1];
    const nIn = firstOut ? w.shape[1] : w.shape[0];
    if (curStart < 0) {
      curStart = g.alloc(nIn);
    } else if (nIn !== curSize) {
      throw new Error(
        `${arch} graph: '${w.name}' expects ${nIn} inputs but the previous layer has ${curSize} outputs (non-sequential models need a dedicated builder)`,
      );
    }
    // 1-D tensors attached to this layer's outputs
    let j = i + 1;
    while (j < ents.length && ents[j].shape.length === 1) {
      if (ents[j].shape[0] !== nOut)
        throw new Error(
          `${arch} graph: '${ents[j].name}' has ${ents[j].shape[0]} values but layer '${w.name}' has ${nOut} outputs`,
        );
      j++;
    }
    const auxStart = g.alloc(j - i - 1);
    const outStart = g.alloc(nOut);
    const K = w.shape.slice(2).reduce((a, b) => a * b, 1);
    if (!firstOut && K !== 1)
      throw new Error(`${arch} graph: modelFirstDimOut=false supports 2-D weights only ('${w.name}')`);
    g.dense({
      name: w.name,
      shape: w.shape,
      paramType: w.shape.length > 2 ? EdgeType.conv : EdgeType.fc,
      paramName: w.name,
      rowStart: curStart,
      nIn,
      colStart: outStart,
      nOut,
      // (out, in, k): ((o*I + i)*K + f); (in, out): i*O + o
      param: firstOut
        ? { off: w.offset, sI: K, sO: nIn * K, sF: 1, K }
        : { off: w.offset, sI: nOut, sO: 1, sF: 0, K: 1 },
    });
    for (let k = i + 1; k < j; k++) {
      const b = ents[k];
      g.dense({
        name: b.name,
        shape: b.shape,
        paramType: b.name.endsWith('bias') ? EdgeType.bias : EdgeType.norm,
        paramName: b.name,
        rowStart: auxStart + (k - i - 1),
        nIn: 1,
        colStart: outStart,
        nOut,
        param: { off: b.offset, sI: 0, sO: 1, sF: 0, K: 1 },
      });
    }
    curStart = outStart;
    curSize = nOut;
    i = j;
  }
  return g.finish({ maxFeat: opts.maxFeat, selfLoops: opts.selfLoops });
}
