/** Meta-training of NiNo nowcasters (`nino train-nino`): data windows, trainer, checkpoints. */
export * from './data.ts';
export * from './trainer.ts';
