/** Meta-training of NiNo nowcasters (`nino train-nino`): settings, data windows, trainer, checkpoints, runs. */
export * from './batch.ts';
export * from './checkpoint.ts';
export * from './config.ts';
export * from './model.ts';
export * from './parallel.ts';
export * from './paths.ts';
export * from './run.ts';
export * from './sampler.ts';
export * from './schedule.ts';
export * from './step.ts';
export * from './trainer.ts';
export * from './trajectories.ts';
export * from './validation.ts';
export * from './windows.ts';
