/**
 * The library entry point for nowcasting, in the shape of the official example:
 *
 *   const opt = await createNiNo({ baseOpt: new AdamW({ lr: 6e-3, weightDecay: 0 }), model, ckpt: 'official:nino_no_posw',
 *                                  period: 1000, maxTrainSteps: 10000 });
 *   if (opt.needGrads) grads = ...; opt.step(params, grads);
 *
 * `model` is a ModelDef (parameter names/shapes + architecture); `ckpt` is any nowcaster reference
 * (see resolve.ts; default: nino's own checkpoint when present, else the official nino_no_posw).
 */
import { existsSync } from 'node:fs';
import type { Logger } from '../core/logger.ts';
import type { Optimizer } from '../optim/types.ts';
import type { ModelDef } from '../tasks/types.ts';
import { NiNo } from './nino.ts';
import { PROJECT_CHECKPOINT, resolveNowcaster } from './resolve.ts';

export { NiNo, type NiNoOptions, type Nowcaster } from './nino.ts';
export { horizonSchedule, nowcastSteps } from './schedule.ts';
export { resolveNowcaster, nowcasterLabel } from './resolve.ts';
export { GraphNowcaster } from './graph-nowcaster.ts';

export interface CreateNiNoOptions {
  baseOpt: Optimizer;
  model: ModelDef;
  /** nowcaster reference; null = plain base optimizer */
  ckpt?: string | null;
  period?: number;
  maxTrainSteps?: number;
  /** horizon decay power */
  p?: number;
  subgraph?: boolean;
  edgeSampleRatio?: number;
  chunkEdges?: number;
  logger?: Logger;
}

/** The default nowcaster: nino's own meta-trained checkpoint when shipped, else the official one. */
export function defaultNowcasterRef(): string {
  return existsSync(PROJECT_CHECKPOINT) ? 'project' : 'official:nino_no_posw';
}

export async function createNiNo(o: CreateNiNoOptions): Promise<NiNo> {
  const ref = o.ckpt === undefined ? defaultNowcasterRef() : o.ckpt;
  const nowcaster =
    ref === null
      ? null
      : await resolveNowcaster(ref, {
          model: o.model,
          logger: o.logger,
          subgraph: o.subgraph,
          edgeSampleRatio: o.edgeSampleRatio,
          chunkEdges: o.chunkEdges,
        });
  return new NiNo({
    baseOpt: o.baseOpt,
    nowcaster,
    period: o.period,
    maxTrainSteps: o.maxTrainSteps,
    p: o.p,
    logger: o.logger,
  });
}
