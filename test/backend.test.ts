/**
 * Backend selection (src/core/backend.ts): the auto order tensorflow -> webgpu -> wasm -> cpu, what is
 * logged at info and at debug, explicit --backend webgpu failing with what is missing, and every branch
 * of the webgpu detection (package missing, version mismatch, no libvulkan, no driver, a driver without
 * an adapter, an adapter) through an injected environment, so no GPU is needed. Where the real
 * `webgpu` and `@tensorflow/tfjs-backend-webgpu` packages are installed, it also checks what this
 * machine reports and runs the real backend on Dawn's null adapter (registration, async reads, the
 * one-line error of a sync read).
 *
 *   npx vitest run test/backend.test.ts
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BACKENDS,
  WEBGPU_INSTALL,
  WEBGPU_SYNC_READ_ERROR,
  defaultWebgpuEnv,
  initBackend,
  parseBackendName,
  probeWebgpu,
  resetBackendChoice,
  type BackendProbe,
  type WebgpuEnv,
  type WebgpuProbe,
} from '../src/core/backend.ts';
import type { Logger } from '../src/core/logger.ts';
import { Rng } from '../src/core/rng.ts';
import { makeGpt2 } from '../src/tasks/models/gpt2.ts';

interface Line {
  level: 'info' | 'debug' | 'warn' | 'error';
  msg: string;
}
function recorder(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const rec = (level: Line['level']) => (o: object | string, m?: string) =>
    lines.push({ level, msg: `${m ?? ''} ${JSON.stringify(o)}` });
  return { logger: { info: rec('info'), debug: rec('debug'), warn: rec('warn'), error: rec('error') }, lines };
}

const notFound = (name: string) =>
  Object.assign(new Error(`Cannot find package '${name}' imported from backend.ts`), { code: 'ERR_MODULE_NOT_FOUND' });
const tfjsNodeGpuMissing: BackendProbe = async () => ({
  why: 'not installed',
  detail: `tfjs-node-gpu not available (${notFound('@tensorflow/tfjs-node-gpu').message})`,
});
/** a stand-in for the wasm probe that only records that it ran (the active tfjs backend stays cpu) */
const fakeOk =
  (calls: string[], name: string): BackendProbe =>
  async () => {
    calls.push(name);
    return null;
  };

afterEach(async () => {
  resetBackendChoice();
  await tf.setBackend('cpu');
});

describe('backend names', () => {
  it('webgpu is a backend name, between tensorflow and wasm', () => {
    expect(BACKENDS).toEqual(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
    expect(parseBackendName('WebGPU')).toBe('webgpu');
    expect(() => parseBackendName('metal')).toThrow(
      /unknown backend 'metal'; choose one of: auto, tensorflow, webgpu, wasm, cpu/,
    );
  });
});

describe('auto selection', () => {
  it('tfjs-node-gpu not found is logged at debug only; info names the backend and why', async () => {
    const { logger, lines } = recorder();
    const calls: string[] = [];
    const webgpuProbe = async (): Promise<WebgpuProbe> => ({
      ok: false,
      missing: 'adapter',
      why: 'no adapter',
      detail: 'webgpu backend: no adapter here',
    });
    const r = await initBackend('auto', logger, {
      probes: { tensorflow: tfjsNodeGpuMissing, wasm: fakeOk(calls, 'wasm') },
      webgpuProbe,
      autoWebgpu: true,
    });
    expect(r).toEqual({ name: 'wasm', reason: 'auto: tensorflow: not installed; webgpu: no adapter' });
    expect(calls).toEqual(['wasm']);
    const info = lines.filter((l) => l.level === 'info');
    expect(info).toHaveLength(1);
    expect(info[0].msg).toMatch(/^compute backend: wasm /);
    expect(lines.some((l) => l.level !== 'debug' && /Cannot find package/.test(l.msg))).toBe(false);
    const debug = lines.filter((l) => l.level === 'debug').map((l) => l.msg);
    expect(debug.some((m) => /tensorflow passed over: tfjs-node-gpu not available \(Cannot find package/.test(m))).toBe(
      true,
    );
    expect(debug.some((m) => /webgpu passed over: webgpu backend: no adapter here/.test(m))).toBe(true);
  });

  it('an adapter makes auto choose webgpu (after tensorflow, before wasm)', async () => {
    const calls: string[] = [];
    const webgpuProbe = async (): Promise<WebgpuProbe> => ({
      ok: true,
      adapter: 'fake gpu',
      async activate() {
        calls.push('activate');
        // a stand-in backend under the name 'webgpu' (the real one needs a GPU)
        tf.registerBackend('webgpu', () => new (tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend)());
      },
    });
    try {
      const r = await initBackend('auto', silentRecorder(), {
        probes: { tensorflow: tfjsNodeGpuMissing, wasm: fakeOk(calls, 'wasm') },
        webgpuProbe,
        autoWebgpu: true,
      });
      expect(r).toEqual({ name: 'webgpu', reason: 'auto: tensorflow: not installed' });
      expect(tf.getBackend()).toBe('webgpu');
      expect(calls).toEqual(['activate']); // wasm never tried
    } finally {
      await tf.setBackend('cpu');
      tf.removeBackend('webgpu');
    }
  });

  it('tensorflow, when it loads, comes first (webgpu is not probed)', async () => {
    const calls: string[] = [];
    const webgpuProbe = async (): Promise<WebgpuProbe> => {
      calls.push('webgpu');
      return { ok: false, missing: 'adapter', why: 'no adapter', detail: '' };
    };
    const r = await initBackend('auto', silentRecorder(), {
      probes: { tensorflow: fakeOk(calls, 'tensorflow') },
      webgpuProbe,
      autoWebgpu: true,
    });
    expect(r).toEqual({ name: 'tensorflow', reason: 'auto: first choice' });
    expect(calls).toEqual(['tensorflow']);
  });

  it('by default auto does not try webgpu (sync reads), and says so at debug', async () => {
    const { logger, lines } = recorder();
    const calls: string[] = [];
    const webgpuProbe = async (): Promise<WebgpuProbe> => {
      calls.push('webgpu');
      return { ok: false, missing: 'adapter', why: 'no adapter', detail: '' };
    };
    const r = await initBackend('auto', logger, {
      probes: { tensorflow: tfjsNodeGpuMissing, wasm: fakeOk(calls, 'wasm') },
      webgpuProbe,
    });
    expect(r.reason).toBe('auto: tensorflow: not installed; webgpu: not tried');
    expect(calls).toEqual(['wasm']);
    expect(
      lines.find(
        (l) =>
          l.level === 'debug' &&
          /webgpu passed over: auto does not try webgpu: nino still reads tensors synchronously \(dataSync\)/.test(
            l.msg,
          ),
      ),
    ).toBeDefined();
  });

  it('falls through to cpu when nothing else works', async () => {
    const no: BackendProbe = async () => ({ why: 'absent', detail: 'absent' });
    const r = await initBackend('auto', silentRecorder(), { probes: { tensorflow: no, wasm: no }, autoWebgpu: false });
    expect(r).toEqual({ name: 'cpu', reason: 'auto: tensorflow: absent; webgpu: not tried; wasm: absent' });
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('explicit --backend webgpu', () => {
  const cases: [string, WebgpuProbe, RegExp][] = [
    [
      'the packages',
      {
        ok: false,
        missing: 'package',
        why: 'not installed',
        detail: `webgpu backend: x is not installed; run ${WEBGPU_INSTALL}`,
      },
      /npm install webgpu @tensorflow\/tfjs-backend-webgpu@4\.22\.0/,
    ],
    [
      'libvulkan',
      {
        ok: false,
        missing: 'libvulkan',
        why: 'no libvulkan',
        detail: 'webgpu backend: ... apt-get install libvulkan1',
      },
      /apt-get install libvulkan1/,
    ],
  ];
  for (const [what, probe, re] of cases) {
    it(`fails with the probe's message when ${what} is missing`, async () => {
      await expect(initBackend('webgpu', silentRecorder(), { webgpuProbe: async () => probe })).rejects.toThrow(re);
    });
  }

  it('is chosen when requested even though auto skips it, and a device failure is reported', async () => {
    const probe: WebgpuProbe = {
      ok: true,
      adapter: 'fake gpu',
      async activate() {
        throw new Error('device lost');
      },
    };
    await expect(initBackend('webgpu', silentRecorder(), { webgpuProbe: async () => probe })).rejects.toThrow(
      /webgpu backend: adapter fake gpu found but requesting a device failed \(device lost\)/,
    );
  });
});

// ------------------------------------------------------------------ detection with an injected environment

interface FakeOpts {
  backendPkg?: 'ok' | 'absent' | 'broken';
  dawnPkg?: 'ok' | 'absent';
  version?: string | null;
  platform?: NodeJS.Platform;
  loader?: string | null;
  drivers?: string[];
  adapter?: { info: Record<string, string> } | null;
}
function fakeEnv(o: FakeOpts, calls: string[] = []): WebgpuEnv {
  const adapter =
    o.adapter === undefined || o.adapter === null
      ? null
      : {
          info: o.adapter.info,
          features: { has: () => false },
          limits: {},
          requestDevice: async () => ({ destroy() {} }),
        };
  return {
    async importModule(name) {
      calls.push(`import ${name}`);
      if (name === '@tensorflow/tfjs-backend-webgpu') {
        if ((o.backendPkg ?? 'ok') === 'absent') throw notFound(name);
        if (o.backendPkg === 'broken') throw new Error('SyntaxError: bad bundle');
        return { WebGPUBackend: class {} };
      }
      if ((o.dawnPkg ?? 'ok') === 'absent') throw notFound(name);
      return {
        globals: {},
        create(opts: string[]) {
          calls.push(`create ${JSON.stringify(opts)}`);
          return { requestAdapter: async () => adapter };
        },
      };
    },
    packageVersion: () => (o.version === undefined ? tf.version_core : o.version),
    platform: o.platform ?? 'linux',
    findVulkanLoader: () => (o.loader === undefined ? '/usr/lib/x86_64-linux-gnu/libvulkan.so.1' : o.loader),
    vulkanDrivers: () => o.drivers ?? [],
    dawnOptions: [],
  };
}
async function notOk(env: WebgpuEnv): Promise<Extract<WebgpuProbe, { ok: false }>> {
  const p = await probeWebgpu(env);
  if (p.ok) throw new Error('expected no webgpu');
  return p;
}

describe('webgpu detection (injected environment)', () => {
  it('tfjs-backend-webgpu missing: names it and the install command', async () => {
    const p = await notOk(fakeEnv({ backendPkg: 'absent' }));
    expect(p.missing).toBe('package');
    expect(p.detail).toContain('@tensorflow/tfjs-backend-webgpu is not installed');
    expect(p.detail).toContain(WEBGPU_INSTALL);
  });

  it('tfjs-backend-webgpu that fails to load: says so with its error', async () => {
    const p = await notOk(fakeEnv({ backendPkg: 'broken' }));
    expect(p.detail).toMatch(/failed to load \(SyntaxError: bad bundle\)/);
  });

  it('a tfjs-backend-webgpu of another version than tfjs-core: the exact install command', async () => {
    const p = await notOk(fakeEnv({ version: '4.21.0' }));
    expect(p.missing).toBe('package');
    expect(p.detail).toContain(
      `is 4.21.0 but @tensorflow/tfjs-core is ${tf.version_core}; run npm install @tensorflow/tfjs-backend-webgpu@${tf.version_core}`,
    );
  });

  it("the 'webgpu' package (Dawn) missing: names it and the install command", async () => {
    const p = await notOk(fakeEnv({ dawnPkg: 'absent' }));
    expect(p.missing).toBe('package');
    expect(p.detail).toContain("the 'webgpu' package (Dawn's Node binding, ~130 MB) is not installed");
    expect(p.detail).toContain(WEBGPU_INSTALL);
  });

  it('no libvulkan on Linux: apt-get install libvulkan1, and Dawn is not started', async () => {
    const calls: string[] = [];
    const p = await notOk(fakeEnv({ loader: null }, calls));
    expect(p.missing).toBe('libvulkan');
    expect(p.detail).toContain('apt-get install libvulkan1');
    expect(p.detail).toContain('mesa-vulkan-drivers');
    expect(calls.some((c) => c.startsWith('create'))).toBe(false);
  });

  it('libvulkan but no driver: install the GPU driver', async () => {
    const p = await notOk(fakeEnv({ drivers: [] }));
    expect(p.missing).toBe('adapter');
    expect(p.detail).toContain('libvulkan1 is installed but there is no Vulkan driver');
    expect(p.detail).toContain('apt-get install mesa-vulkan-drivers');
  });

  it('a driver that offers no adapter (lavapipe): names the driver and why', async () => {
    const p = await notOk(fakeEnv({ drivers: ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'] }));
    expect(p.missing).toBe('adapter');
    expect(p.detail).toContain('the Vulkan drivers here (lvp_icd.x86_64.json) offer no adapter Dawn accepts');
    expect(p.detail).toContain('lavapipe');
  });

  it('macOS without an adapter: no Vulkan check, says Metal', async () => {
    const calls: string[] = [];
    const p = await notOk(fakeEnv({ platform: 'darwin', loader: null }, calls));
    expect(p.missing).toBe('adapter');
    expect(p.detail).toContain('Metal');
    expect(calls).toContain('create []');
  });

  it('an adapter: ok, named from its info', async () => {
    const p = await probeWebgpu(
      fakeEnv({ adapter: { info: { vendor: 'nvidia', architecture: 'hopper', device: '', description: '' } } }),
    );
    expect(p.ok).toBe(true);
    if (p.ok) expect(p.adapter).toBe('nvidia hopper');
  });
});

// ------------------------------------------------------------------ the real packages, where installed

const installed =
  defaultWebgpuEnv.packageVersion('webgpu') !== null &&
  defaultWebgpuEnv.packageVersion('@tensorflow/tfjs-backend-webgpu') !== null;
const notInstalled = `skipped: 'webgpu' and @tensorflow/tfjs-backend-webgpu are not installed (${WEBGPU_INSTALL})`;
const realProbe = installed ? await probeWebgpu() : null;

describe('webgpu detection with the real packages', () => {
  it.skipIf(!installed || realProbe?.ok)(
    `reports what this machine lacks${!installed ? ` [${notInstalled}]` : realProbe?.ok ? ' [skipped: this machine has an adapter]' : ''}`,
    async () => {
      const p = realProbe!;
      if (p.ok) throw new Error('unreachable');
      if (process.platform === 'linux' && !defaultWebgpuEnv.findVulkanLoader()) {
        expect(p.missing).toBe('libvulkan');
        expect(p.detail).toContain('apt-get install libvulkan1');
      } else {
        expect(p.missing).toBe('adapter');
      }
      await expect(initBackend('webgpu')).rejects.toThrow(p.detail);
    },
  );

  it.skipIf(!installed || realProbe?.ok)(
    `real Dawn, Vulkan loader check passed over: requestAdapter() gives no adapter here${!installed ? ` [${notInstalled}]` : ''}`,
    async () => {
      const p = await notOk({ ...defaultWebgpuEnv, findVulkanLoader: () => '/assumed/libvulkan.so.1' });
      expect(p.missing).toBe('adapter');
      expect(p.detail).toMatch(/no Vulkan driver|offer no adapter Dawn accepts/);
    },
  );

  it.skipIf(!installed)(
    `the real backend on Dawn's null adapter: registers, reads async, one-line error on a sync read, a GPT-2 gradient${!installed ? ` [${notInstalled}]` : ''}`,
    async () => {
      const p = await probeWebgpu({ ...defaultWebgpuEnv, dawnOptions: ['backend=null'] });
      expect(p.ok).toBe(true);
      try {
        const r = await initBackend('webgpu', silentRecorder(), { webgpuProbe: async () => p });
        expect(r).toEqual({ name: 'webgpu', reason: 'requested' });
        expect(tf.getBackend()).toBe('webgpu');
        const a = tf.range(0, 4096).reshape([64, 64]);
        expect(a.dataSync()[4095]).toBe(4095); // not yet on the device: readable synchronously
        const b = tf.matMul(a, a); // computed on the (null) device: values meaningless, reads must still work async
        expect((await b.data()).length).toBe(4096);
        const c = tf.matMul(a, a);
        expect(() => c.dataSync()).toThrow(WEBGPU_SYNC_READ_ERROR);
        tf.dispose([a, b, c]);
        // a GPT-2 gradient (embedding, attention, LM head) needs no sync read on webgpu
        const m = makeGpt2({ vocabSize: 64, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 });
        const vars = m.init(new Rng(1)).map((v, i) => tf.variable(tf.tensor(v, m.specs[i].shape)));
        const x = tf.tensor2d(
          Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 64),
          [2, 8],
          'int32',
        );
        const { value, grads } = tf.variableGrads(() => m.loss(vars, { x, y: x }), vars);
        expect((await grads[vars[0].name].data()).length).toBe(64 * 8);
        tf.dispose([x, value, ...vars, ...Object.values(grads)]);
      } finally {
        await tf.setBackend('cpu');
        tf.removeBackend('webgpu');
        delete (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
      }
    },
  );
});

function silentRecorder(): Logger {
  return recorder().logger;
}
