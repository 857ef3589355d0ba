import { describe, expect, it } from 'vitest';
import { composeSpec, EMPTY_FORM, formFieldOf, placeErrors, type SubmitForm } from './submit';

const form = (more: Partial<SubmitForm> = {}): SubmitForm => ({ ...EMPTY_FORM, ...more });

describe('composeSpec', () => {
  it('writes the form as YAML, leaving empty fields to the server', () => {
    const c = composeSpec(form({ name: 'demo: one', worldSize: '2', precision: 'fp16-emulated' }));
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.yaml).toBe([
      'name: "demo: one"', 'worldSize: 2', 'spares: 0', 'model:', '  size: "tiny"', 'data:', '  sample: "europarl"',
      'hyper:', '  precision: "fp16-emulated"', ''].join('\n'));
    expect(c.origins[0]).toEqual({ field: 'name' });
    expect(c.origins[8]).toEqual({ field: 'precision' });
  });

  it('sends what is not a number as text, for the server to name the field', () => {
    const c = composeSpec(form({ worldSize: 'two' }));
    expect(c.ok && c.yaml).toContain('worldSize: "two"\n');
  });

  it('appends the YAML and puts form keys into a mapping the YAML opens, at its indent', () => {
    const rest = 'nodeSelector:\n  zone: eu-1\nhyper:\n    lr: 0.0003\n# done\n';
    const c = composeSpec(form({ precision: 'fp32', maxSteps: '100' }));
    const d = composeSpec(form({ precision: 'fp32', maxSteps: '100', rest }));
    expect(c.ok && d.ok).toBe(true);
    if (!d.ok) return;
    const lines = d.yaml.split('\n');
    const hyper = lines.indexOf('hyper:');
    expect(lines.slice(hyper, hyper + 4)).toEqual(['hyper:', '    precision: "fp32"', '    maxSteps: 100', '    lr: 0.0003']);
    expect(lines.filter(l => l === 'hyper:')).toHaveLength(1);
    // every line says where it came from: the YAML's own lines keep their numbers
    expect(d.origins[lines.indexOf('nodeSelector:')]).toEqual({ restLine: 1 });
    expect(d.origins[lines.indexOf('    lr: 0.0003')]).toEqual({ restLine: 4 });
    expect(d.origins[hyper + 1]).toEqual({ field: 'precision' });
  });

  it('refuses a field set in both places instead of letting one win', () => {
    const top = composeSpec(form({ worldSize: '2', rest: 'worldSize: 4\n' }));
    expect(top).toEqual({ ok: false, errors: {
      worldSize: 'also set in the YAML (line 1): set it in one place',
      rest: 'worldSize (line 1) is also set in the form: set it in one place' } });
    const nested = composeSpec(form({ precision: 'fp32', rest: 'hyper:\n  precision: fp16-emulated\n' }));
    expect(!nested.ok && nested.errors.precision).toMatch(/also set in the YAML \(hyper.precision\)/);
    const inline = composeSpec(form({ rest: 'model: {layers: 2, heads: 2, dModel: 64}\n' }));
    expect(!inline.ok && inline.errors.modelSize).toMatch(/on one line \(line 1\)/);
    // a field left empty in the form may be set in the YAML
    expect(composeSpec(form({ modelSize: '', rest: 'model: {layers: 2, heads: 2, dModel: 64}\n' })).ok).toBe(true);
  });

  it('keeps form text inside its quotes: no key can be slipped in through a field', () => {
    const c = composeSpec(form({ name: 'x\nworldSize: 900', spares: '1\nhyper: {}' }));
    expect(c.ok && c.yaml.split('\n').slice(0, 2)).toEqual(['name: "x\\nworldSize: 900"', 'worldSize: 1']);
    expect(c.ok && c.yaml).toContain('spares: "1\\nhyper: {}"\n');
  });

  it('turns the YAML box\'s own document start into a comment, keeping its line numbers', () => {
    const c = composeSpec(form({ rest: '# my spec\n---\nnodeSelector:\n  zone: a\n' }));
    expect(c.ok && c.yaml).toContain('\n# my spec\n# ---\nnodeSelector:\n');
    expect(c.ok && c.origins[c.yaml.split('\n').indexOf('nodeSelector:')]).toEqual({ restLine: 3 });
  });

  it('sends a data path as data.path', () => {
    const c = composeSpec(form({ dataKind: 'path', data: '/data/tokens' }));
    expect(c.ok && c.yaml).toContain('data:\n  path: "/data/tokens"\n');
  });
});

describe('placeErrors', () => {
  const c = composeSpec(form({ worldSize: '0', rest: 'hyper:\n  lr: -1\n' }));
  if (!c.ok) throw new Error('composes');

  it('puts an error on the form field or the YAML line it came from', () => {
    const lines = c.yaml.split('\n');
    const errors = placeErrors([
      { field: 'worldSize', message: 'must be at least 1', line: lines.indexOf('worldSize: 0') + 1, column: 1 },
      { field: 'hyper.lr', message: 'must be above 0', line: lines.indexOf('  lr: -1') + 1, column: 3 },
      { field: 'model.size', message: "unknown size 'tiny'", line: lines.indexOf('  size: "tiny"') + 1 },
    ], c.origins, 'refused');
    expect(errors).toEqual({ worldSize: 'must be at least 1', rest: 'line 2: hyper.lr: must be above 0',
      modelSize: "unknown size 'tiny'" });
  });

  it('places an error without a line by its field, and one without a field under the buttons', () => {
    expect(placeErrors([{ field: 'spares', message: 'exceeds the fleet' }], c.origins, 'x')).toEqual({ spares: 'exceeds the fleet' });
    expect(placeErrors([{ field: 'recoveryPolicy.x', message: 'unknown' }], c.origins, 'x')).toEqual({ rest: 'recoveryPolicy.x: unknown' });
    expect(placeErrors([], c.origins, 'this needs role OPERATOR')).toEqual({ form: 'this needs role OPERATOR' });
  });

  it('knows which spec paths the form holds', () => {
    expect(['data.sample', 'model', 'hyper.maxSteps', 'hyper.lr', undefined].map(formFieldOf))
      .toEqual(['data', 'modelSize', 'maxSteps', null, null]);
  });
});
