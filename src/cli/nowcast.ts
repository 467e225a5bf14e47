/** `nino nowcast`: apply one nowcast offline to saved parameter states. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { initBackend } from '../core/backend.ts';
import { TOOL_VERSION } from '../core/version.ts';
import { graphBuilderNames } from '../graph/index.ts';
import { nowcastStates, readStateFiles, writeParams } from '../nowcast/offline.ts';
import { readTrajectory } from '../trajectories/arrow.ts';
import { readEnv } from './env.ts';
import { addInferenceOptions, makeLogger, parsePositiveInt, UsageError, type GlobalOpts } from './common.ts';

interface NowcastOpts {
  states?: string[];
  trajectory?: string;
  rows?: string;
  nowcaster: string;
  k: number;
  arch?: string;
  numHeads?: number;
  numKvHeads?: number;
  out: string;
  subgraph?: boolean;
  edgeSampleRatio?: number;
  chunkEdges?: number;
}

/** --rows: distinct row indices, oldest first ("5,6,7,8,9") */
function parseRows(v: string): number[] {
  const parts = v.split(',').map((x) => x.trim());
  if (parts.some((x) => !/^\d+$/.test(x))) throw new UsageError(`bad --rows '${v}': give row indices like 5,6,7,8,9`);
  const rows = parts.map(Number);
  for (let i = 1; i < rows.length; i++) {
    if (rows[i] <= rows[i - 1])
      throw new UsageError(
        `bad --rows '${v}': rows must be increasing (oldest first) and distinct; ${rows[i]} comes after ${rows[i - 1]}`,
      );
  }
  return rows;
}

export function registerNowcast(program: Command): void {
  addInferenceOptions(program.command('nowcast'))
    .description('predict future parameters from 5 saved parameter states (one NiNo step, offline)')
    .option('--states <files...>', 'parameter safetensors files, oldest first (PyTorch names and shapes)')
    .option('--trajectory <file>', 'take the states from a trajectory Arrow file instead')
    .option('--rows <list>', 'with --trajectory: row indices of the states, e.g. 5,6,7,8,9 (default: the last 5 rows)')
    .option(
      '-n, --nowcaster <ref>',
      "'official:nino_no_posw', 'project', 'linefit' or a checkpoint path",
      'official:nino_no_posw',
    )
    .requiredOption(
      '-k, --k <intervals>',
      "horizon: how many state intervals ahead to predict (1..the nowcaster's horizons, 40 for the official ones)",
      parsePositiveInt('k'),
    )
    .option(
      '--arch <name>',
      `graph builder: ${graphBuilderNames().join(', ')} (default: guessed from parameter names: gpt2, llama, else mlp)`,
    )
    .option('--num-heads <n>', 'attention heads (transformers)', parsePositiveInt('num-heads'))
    .option('--num-kv-heads <n>', 'key/value heads (Llama GQA)', parsePositiveInt('num-kv-heads'))
    .requiredOption('-o, --out <file>', 'where to write the predicted parameters (safetensors)')
    .action(async (o: NowcastOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOpts;
      const logger = makeLogger(g);
      if (!!o.states === !!o.trajectory) throw new UsageError('give either --states FILES... or --trajectory FILE');
      if (o.arch !== undefined && !graphBuilderNames().includes(o.arch))
        throw new UsageError(`unknown --arch '${o.arch}'; known: ${graphBuilderNames().join(', ')}`);
      if (o.rows !== undefined && !o.trajectory) throw new UsageError('--rows needs --trajectory');
      for (const f of [...(o.states ?? []), ...(o.trajectory ? [o.trajectory] : [])])
        if (!existsSync(f)) throw new UsageError(`file not found: ${f}`);
      await initBackend(g.backend, logger);
      let loaded;
      if (o.states) loaded = readStateFiles(o.states);
      else {
        const t = readTrajectory(o.trajectory!);
        const n = t.records.length;
        const rows = o.rows
          ? parseRows(o.rows)
          : Array.from({ length: Math.min(5, n) }, (_, i) => n - Math.min(5, n) + i);
        for (const r of rows)
          if (!(Number.isInteger(r) && r >= 0 && r < n))
            throw new UsageError(`row ${r} is not in 0..${n - 1} of ${o.trajectory}`);
        loaded = {
          specs: t.layout.entries.map((e) => ({ name: e.name, shape: e.shape })),
          states: rows.map((r) => t.records[r].params),
        };
        if (!o.numHeads && t.meta.config.model && typeof t.meta.config.model === 'object') {
          const m = t.meta.config.model as { nHead?: number };
          o.numHeads = m.nHead;
        }
      }
      const r = nowcastStates({
        ...loaded,
        nowcaster: o.nowcaster,
        k: o.k,
        arch: o.arch,
        numHeads: o.numHeads,
        numKvHeads: o.numKvHeads,
        subgraph: o.subgraph,
        edgeSampleRatio: o.edgeSampleRatio,
        chunkEdges: o.chunkEdges,
        officialDir: readEnv().officialDir,
        logger,
      });
      writeParams(o.out, r.layout, r.params, {
        producer: `nino ${TOOL_VERSION} nowcast`,
        nowcaster: o.nowcaster,
        k: String(o.k),
      });
      process.stdout.write(
        `wrote ${o.out}: ${r.layout.total} parameters predicted ${o.k} intervals ahead in ${r.ms.toFixed(0)} ms\n`,
      );
    });
}
