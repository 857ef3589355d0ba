import { useState } from 'react';
import { ApiError, apiText, type Run } from '../api';
import { composeSpec, EMPTY_FORM, MODEL_SIZES, placeErrors, PRECISIONS, SAMPLES, type Errors, type FormField,
  type SubmitForm } from '../submit';

const REST_EXAMPLE = `# more of the spec, in YAML (optional), e.g.
# nodeSelector:
#   zone: eu-1
# hyper:
#   lr: 0.0003
# recoveryPolicy:
#   restartBudget: 5`;

/** POST /api/v1/runs with the composed YAML spec; on 201 the run's page opens. */
export function SubmitPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [form, setForm] = useState<SubmitForm>(EMPTY_FORM);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const spec = composeSpec(form);
    if (!spec.ok) { setErrors(spec.errors); return; }
    setErrors({});
    setBusy(true);
    apiText<Run>('/api/v1/runs', 'POST', spec.yaml, 'application/yaml').then(run => {
      location.hash = `#/runs/${run.id}`;
    }, err => {
      if (err instanceof ApiError && err.status === 401) onUnauthorized();
      const message = err instanceof Error ? err.message : String(err);
      setErrors(err instanceof ApiError ? placeErrors(err.errors, spec.origins, message) : { form: message });
    }).finally(() => setBusy(false));
  };
  return <SubmitFields form={form} errors={errors} busy={busy} onChange={setForm} onSubmit={submit} />;
}

/** The form itself, stateless, so its markup can be checked without a browser. */
export function SubmitFields({ form, errors, busy, onChange, onSubmit }: {
  form: SubmitForm; errors: Errors; busy: boolean; onChange: (f: SubmitForm) => void;
  onSubmit: (e: React.FormEvent) => void;
}) {
  const set = <K extends keyof SubmitForm>(k: K, v: SubmitForm[K]) => onChange({ ...form, [k]: v });
  const error = (k: FormField | 'form') =>
    errors[k] ? <span className="error" role="alert" data-error={k}>{errors[k]}</span> : null;
  const text = (k: Exclude<FormField, 'rest' | 'modelSize' | 'precision' | 'data'>, label: string, hint: string) => (
    <label>{label}{' '}
      <input name={k} value={form[k]} placeholder={hint} onChange={e => set(k, e.target.value)} />{error(k)}
    </label>
  );
  return (
    <form className="submit" onSubmit={onSubmit} aria-label="submit a run">
      <h1>Submit a run</h1>
      <p className="hint">Empty fields take the server's defaults (the OPT values of the model size). The spec is sent
        as YAML to <code>POST /api/v1/runs</code>; see docs/runs.md for every field.</p>
      {text('name', 'name', 'a label (default: generated)')}
      <label>model size{' '}
        <select name="modelSize" value={form.modelSize} onChange={e => set('modelSize', e.target.value)}>
          <option value="">none (dimensions in the YAML)</option>
          {MODEL_SIZES.map(s => <option key={s} value={s}>{s}</option>)}
        </select>{error('modelSize')}
      </label>
      <label>data{' '}
        <select name="dataKind" value={form.dataKind}
                onChange={e => onChange({ ...form, dataKind: e.target.value as SubmitForm['dataKind'],
                  data: e.target.value === 'sample' ? SAMPLES[0] : '' })}>
          <option value="sample">built-in sample</option>
          <option value="path">token shards at a path</option>
        </select>{' '}
        {form.dataKind === 'sample'
          ? <select name="data" value={form.data} onChange={e => set('data', e.target.value)}>
              {SAMPLES.map(s => <option key={s} value={s}>{s}</option>)}
            </select>
          : <input name="data" value={form.data} placeholder="/data/tokens" onChange={e => set('data', e.target.value)} />}
        {error('data')}
      </label>
      {text('worldSize', 'world size', 'ranks (nodes × ranks per node)')}
      {text('spares', 'spares', 'hot spares')}
      {text('checkpointInterval', 'checkpoint interval', 'steps (default: the server\'s)')}
      {text('checkpointLocation', 'checkpoint location', 'a directory every node can read')}
      <label>precision{' '}
        <select name="precision" value={form.precision} onChange={e => set('precision', e.target.value)}>
          <option value="">the model size's default</option>
          {PRECISIONS.map(p => <option key={p} value={p}>{p}</option>)}
        </select>{error('precision')}
      </label>
      {text('maxSteps', 'max steps', 'default: to the end of the schedule')}
      <label className="rest">the rest of the spec (YAML){error('rest')}
        <textarea name="rest" rows={12} spellCheck={false} placeholder={REST_EXAMPLE} value={form.rest}
                  onChange={e => set('rest', e.target.value)} />
      </label>
      <p>
        <button type="submit" disabled={busy} data-action="submit-run">submit</button>
        {error('form')}
      </p>
    </form>
  );
}
