// The run submission form: its fields and the YAML text for the rest become one YAML spec, sent as it is to
// POST /api/v1/runs (application/yaml), so the server's one schema and its checks decide; its errors come back
// with the field and the line, and land on the form field or the YAML line they name.
import type { FieldProblem } from './api';

/** As the orchestrator's ModelPreset (its labels) and RunSpecResolver.PRECISIONS; the server checks them. */
export const MODEL_SIZES = ['tiny', 'demo', '125M', '350M', '760M', '1.3B', '2.7B', '6.7B', '13B', '30B', '66B', '175B'];
export const PRECISIONS = ['fp32', 'fp16-emulated'];
export const SAMPLES = ['europarl'];

export interface SubmitForm {
  name: string; modelSize: string; dataKind: 'sample' | 'path'; data: string; worldSize: string; spares: string;
  checkpointInterval: string; checkpointLocation: string; precision: string; maxSteps: string;
  /** Everything else, as YAML: nodeSelector, recoveryPolicy, hyper-parameters, explicit model dimensions... */
  rest: string;
}

export type FormField = Exclude<keyof SubmitForm, 'dataKind'>;

export const EMPTY_FORM: SubmitForm = {
  name: '', modelSize: 'tiny', dataKind: 'sample', data: 'europarl', worldSize: '1', spares: '0',
  checkpointInterval: '', checkpointLocation: '', precision: '', maxSteps: '', rest: '',
};

/** Where each form field sits in the spec: a top-level key, or a key of a top-level mapping. */
const PATHS: Record<Exclude<FormField, 'rest'>, (f: SubmitForm) => [string, string?]> = {
  name: () => ['name'],
  modelSize: () => ['model', 'size'],
  data: f => ['data', f.dataKind],
  worldSize: () => ['worldSize'],
  spares: () => ['spares'],
  checkpointInterval: () => ['checkpointInterval'],
  checkpointLocation: () => ['checkpointLocation'],
  precision: () => ['hyper', 'precision'],
  maxSteps: () => ['hyper', 'maxSteps'],
};
const NUMERIC = new Set<FormField>(['worldSize', 'spares', 'checkpointInterval', 'maxSteps']);

/** A number as it is typed (the server checks its type and range); anything else as a quoted YAML (JSON) string. */
function scalar(field: FormField, value: string): string {
  const v = value.trim();
  return NUMERIC.has(field) && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v) ? v : JSON.stringify(v);
}

/** Where a line of the composed spec came from: a form field, or a line (1-based) of the YAML text. */
export type Origin = { field: FormField } | { restLine: number };

export type Errors = Partial<Record<FormField | 'form', string>>;

export type Composed = { ok: true; yaml: string; origins: Origin[] } | { ok: false; errors: Errors };

interface TopKey { key: string; line: number; inline: boolean; children: string[]; indent: number }

/** The top-level keys of a block mapping: lines starting at column 0 (comments, `---` and blanks aside). */
function topKeys(lines: string[]): Map<string, TopKey> {
  const keys = new Map<string, TopKey>();
  let current: TopKey | null = null;
  lines.forEach((line, i) => {
    const top = /^([A-Za-z_][\w.-]*)\s*:(.*)$/.exec(line);
    if (top) {
      const after = top[2].replace(/\s+#.*$/, '').trim();
      current = { key: top[1], line: i, inline: after !== '' && !/^[|>]/.test(after), children: [], indent: 0 };
      keys.set(top[1], current);
    } else if (current && /^\s+\S/.test(line) && !/^\s*#/.test(line)) {
      const indent = line.length - line.trimStart().length;
      if (current.indent === 0) current.indent = indent;
      if (indent === current.indent) current.children.push(line.trim().split(':')[0].trim());
    }
  });
  return keys;
}

/**
 * The form's fields (empty ones left to the server's defaults) and the YAML text as one spec. A field the form and
 * the YAML both set is refused here, on both, rather than sent with one silently winning; a form field of a mapping
 * the YAML also writes (`hyper:` with more hyper-parameters) joins that mapping.
 */
export function composeSpec(f: SubmitForm): Composed {
  const rest = f.rest.replace(/\r\n?/g, '\n').split('\n');
  if (rest.at(-1) === '') rest.pop();
  const keys = topKeys(rest);
  const errors: Errors = {};
  const head: string[] = [];
  const headOrigins: Origin[] = [];
  const groups = new Map<string, { field: FormField; line: string }[]>();

  for (const field of Object.keys(PATHS) as Exclude<FormField, 'rest'>[]) {
    if (f[field].trim() === '') continue;
    const [top, sub] = PATHS[field](f);
    const inRest = keys.get(top);
    if (sub === undefined) {
      if (inRest) {
        errors[field] = `also set in the YAML (line ${inRest.line + 1}): set it in one place`;
        errors.rest = `${top} (line ${inRest.line + 1}) is also set in the form: set it in one place`;
      } else {
        head.push(`${top}: ${scalar(field, f[field])}`);
        headOrigins.push({ field });
      }
      continue;
    }
    if (inRest?.inline) {
      errors[field] = `the YAML sets ${top} on one line (line ${inRest.line + 1}): write it as a block, one key a line, or clear this field`;
      continue;
    }
    if (inRest?.children.includes(sub)) {
      errors[field] = `also set in the YAML (${top}.${sub}): set it in one place`;
      errors.rest = `${top}.${sub} is also set in the form: set it in one place`;
      continue;
    }
    const g = groups.get(top) ?? [];
    g.push({ field, line: `${sub}: ${scalar(field, f[field])}` });
    groups.set(top, g);
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };

  // mappings only the form writes go first; those the YAML opens get the form's keys right after their header
  for (const [top, entries] of groups) {
    if (keys.has(top)) continue;
    head.push(`${top}:`);
    headOrigins.push({ field: entries[0].field });
    for (const e of entries) { head.push(`  ${e.line}`); headOrigins.push({ field: e.field }); }
  }
  const out = [...head];
  const origins = [...headOrigins];
  const start = rest.findIndex(l => l.trim() !== '' && !l.trimStart().startsWith('#'));
  rest.forEach((line, i) => {
    // the box's own document start would make the form's lines a document of their own: kept, as a comment
    out.push(i === start && line.trimEnd() === '---' ? '# ---' : line);
    origins.push({ restLine: i + 1 });
    const opened = [...keys.values()].find(k => k.line === i);
    const entries = opened && groups.get(opened.key);
    if (opened && entries) {
      const indent = ' '.repeat(opened.indent || 2);
      for (const e of entries) { out.push(indent + e.line); origins.push({ field: e.field }); }
    }
  });
  return { ok: true, yaml: out.join('\n') + '\n', origins };
}

/** The form field a spec path belongs to, where the form has one (`data.sample` → data, `model` → modelSize). */
export function formFieldOf(path: string | undefined): FormField | null {
  switch (path) {
    case 'name': case 'worldSize': case 'spares': case 'checkpointInterval': case 'checkpointLocation': return path;
    case 'model': case 'model.size': return 'modelSize';
    case 'data': case 'data.sample': case 'data.path': return 'data';
    case 'hyper.precision': return 'precision';
    case 'hyper.maxSteps': return 'maxSteps';
    default: return null;
  }
}

/**
 * The server's field errors on the form: by the line it names where it came from the composed text (a YAML line is
 * given as the line of the YAML box), else by the field's path; what neither places goes under the buttons.
 */
export function placeErrors(problems: FieldProblem[], origins: Origin[], fallback: string): Errors {
  const errors: Errors = {};
  const add = (k: FormField | 'form', m: string) => { errors[k] = errors[k] ? `${errors[k]}; ${m}` : m; };
  for (const p of problems) {
    const origin = p.line !== undefined ? origins[p.line - 1] : undefined;
    if (origin && 'restLine' in origin) {
      add('rest', `line ${origin.restLine}: ${p.field ? `${p.field}: ` : ''}${p.message}`);
      continue;
    }
    const field = origin && 'field' in origin ? origin.field : formFieldOf(p.field);
    if (field) add(field, p.message);
    else add(p.field ? 'rest' : 'form', p.field ? `${p.field}: ${p.message}` : p.message);
  }
  if (problems.length === 0) add('form', fallback);
  return errors;
}
