// The UI's only way to the server: MLflow's REST API under ajax-api/2.0/mlflow, the
// artifact proxy, and hyperflow's report under ajax-api/2.0/hyperflow. URLs are relative
// to the page, so the UI also works behind a proxy that mounts the server under a sub-path.

const BASE = 'ajax-api/2.0/';

/** An error answer from the server, with MLflow's error_code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  let url = BASE + path;
  const init = { method, headers: { Accept: 'application/json' } };
  if (method === 'GET') {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(body || {})) {
      if (v == null) continue;
      for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
    }
    if ([...q].length) url += '?' + q;
  } else {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body || {});
  }
  const resp = await fetch(url, init);
  const text = await resp.text();
  let json = {};
  try { json = text ? JSON.parse(text) : {}; } catch { json = { message: text.slice(0, 300) }; }
  if (!resp.ok) throw new ApiError(resp.status, json.error_code || 'HTTP_' + resp.status, json.message || resp.statusText);
  return json;
}

/** A run flattened for display: params/metrics/tags as plain objects. */
export function flatRun(run) {
  const info = run.info || {};
  const kv = (list) => Object.fromEntries((list || []).map((x) => [x.key, x.value]));
  const tags = kv(run.data && run.data.tags);
  const metrics = {};
  const steps = {};
  for (const m of (run.data && run.data.metrics) || []) { metrics[m.key] = Number(m.value); steps[m.key] = m.step || 0; }
  return {
    id: info.run_id || info.run_uuid,
    name: info.run_name || tags['mlflow.runName'] || info.run_id,
    experimentId: info.experiment_id,
    status: info.status,
    start: info.start_time || 0,
    end: info.end_time || 0,
    user: info.user_id || '',
    artifactUri: info.artifact_uri || '',
    lifecycle: info.lifecycle_stage,
    params: kv(run.data && run.data.params),
    metrics,
    steps,
    tags,
    parentId: tags['mlflow.parentRunId'] || null,
  };
}

/** Quote a key for the filter language when it is not a plain identifier. */
export function filterKey(kind, key) {
  return /^[\w.]+$/.test(key) ? `${kind}.${key}` : `${kind}.\`${key.replace(/`/g, '``')}\``;
}

/** Quote a string literal for the filter language. */
export function filterString(v) {
  // Our server reads a doubled quote as one quote; ids and names rarely contain any.
  return "'" + String(v).replace(/'/g, "''") + "'";
}

export const api = {
  /** One page of active experiments. */
  searchExperiments(pageToken) {
    return call('POST', 'mlflow/experiments/search', { max_results: 1000, page_token: pageToken });
  },
  async getExperiment(id) {
    return (await call('GET', 'mlflow/experiments/get', { experiment_id: id })).experiment;
  },
  /** One page of runs: {runs: [flat runs], next: token|undefined}. */
  async searchRuns({ experimentIds, filter = '', orderBy = [], maxResults = 100, pageToken, viewType }) {
    const r = await call('POST', 'mlflow/runs/search', {
      experiment_ids: experimentIds,
      filter,
      order_by: orderBy,
      max_results: maxResults,
      page_token: pageToken,
      run_view_type: viewType,
    });
    return { runs: (r.runs || []).map(flatRun), next: r.next_page_token };
  },
  /**
   * How many active runs match, all pages together (one COUNT on the server): those of
   * experiment `experimentId`, or the children of run `parentRunId`, that `filter` matches.
   */
  async countRuns({ experimentId, parentRunId, filter = '' }) {
    return (await call('GET', 'hyperflow/runs/count', { experiment_id: experimentId, parent_run_id: parentRunId, filter: filter || undefined })).count;
  },
  async getRun(id) {
    return flatRun((await call('GET', 'mlflow/runs/get', { run_id: id })).run);
  },
  async metricHistory(runId, key) {
    const r = await call('GET', 'mlflow/metrics/get-history', { run_id: runId, metric_key: key });
    return (r.metrics || []).map((m) => ({ step: m.step || 0, value: Number(m.value), timestamp: m.timestamp }));
  },
  async listArtifacts(runId, path) {
    const r = await call('GET', 'mlflow/artifacts/list', { run_id: runId, path: path || undefined });
    return r.files || [];
  },
  /** hyperflow's sensible-ranges report: {report, sections, plots, range_legend}. */
  report(query) {
    return call('GET', 'hyperflow/report', query);
  },
  /**
   * What the searches are ({experimentId} or {runId} of a parent): {searches: [{run_id,
   * run_name, metric, direction, params: [{name, kind, log, options, active_when}]}],
   * tags: {parent, trial, state}}. The server knows the stored names; the UI asks.
   */
  searches({ experimentId, runId }) {
    return call('GET', 'hyperflow/searches', { experiment_id: experimentId, run_id: runId });
  },
  /** One page of logged models (MLflow 3) of these experiments. */
  searchLoggedModels(experimentIds, pageToken) {
    return call('POST', 'mlflow/logged-models/search', { experiment_ids: experimentIds, max_results: 100, page_token: pageToken });
  },
  /** One page of registered models. */
  searchRegisteredModels(pageToken) {
    return call('GET', 'mlflow/registered-models/search', { max_results: 100, page_token: pageToken });
  },
  /** One page of the versions of registered model `name`. */
  searchModelVersions(name, pageToken) {
    return call('GET', 'mlflow/model-versions/search', { filter: `name = ${filterString(name)}`, max_results: 100, page_token: pageToken });
  },
  /** The proxy URL of an artifact, or null when the run's artifacts are not proxied. */
  artifactUrl(artifactUri, path) {
    const m = /^mlflow-artifacts:\/*(.*)$/.exec(artifactUri || '');
    if (!m) return null;
    const parts = (m[1] + '/' + path).split('/').filter(Boolean).map(encodeURIComponent);
    return 'ajax-api/2.0/mlflow-artifacts/artifacts/' + parts.join('/');
  },
};
