//! The tracking REST API 2.0 operations. Each one is a plain synchronous function
//! `(state, request) -> answer` over the [`wire`] types, run on the blocking pool by the
//! endpoint table ([`super::endpoints`]): turn the request into store terms, call the
//! [`crate::tracking::Store`], turn the result into MLflow's answer.

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::tracking::store::{parse_version, validate_batch_size};
use crate::tracking::wire::{self, Empty};
use crate::tracking::*;

impl AppState {
    /// An experiment as clients see it (artifact location in its public form).
    fn experiment_out(&self, e: &Experiment) -> wire::Experiment {
        let mut out = wire::Experiment::from(e);
        out.artifact_location = self.public_artifact_uri(&out.artifact_location);
        out
    }

    /// A run's info as clients see it (artifact URI in its public form).
    fn info_out(&self, i: &RunInfo) -> wire::RunInfo {
        let mut out = wire::RunInfo::from(i);
        out.artifact_uri = self.public_artifact_uri(&out.artifact_uri);
        out
    }

    /// A run as clients see it.
    fn run_out(&self, r: &Run) -> wire::Run {
        let mut out = wire::Run::from(r);
        out.info.artifact_uri = self.public_artifact_uri(&out.info.artifact_uri);
        out
    }
}

/// A page size: `default` when absent, else at least 1 and at most `max` (if any).
fn page_size(n: Option<i64>, default: usize, max: Option<usize>) -> ApiResult<usize> {
    let most = max.unwrap_or(usize::MAX);
    match n.map(usize::try_from) {
        None => Ok(default),
        Some(Ok(n)) if (1..=most).contains(&n) => Ok(n),
        _ => {
            let n = n.unwrap_or_default();
            let most = max.map(|m| format!(" and at most {m}")).unwrap_or_default();
            Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied: it must be at least \
                 1{most}"
            )))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Experiments.

/// `POST experiments/create`.
pub fn create_experiment(
    st: &AppState,
    wire::CreateExperiment(req): wire::CreateExperiment,
) -> ApiResult<wire::ExperimentCreated> {
    let tags: Vec<Tag> = wire::into_all(req.tags);
    let experiment_id =
        st.store
            .create_experiment(&req.name, req.artifact_location.as_deref(), &tags)?;
    Ok(wire::ExperimentCreated { experiment_id })
}

/// `GET experiments/get`.
pub fn get_experiment(
    st: &AppState,
    wire::GetExperiment(req): wire::GetExperiment,
) -> ApiResult<wire::ExperimentReply> {
    let e = st.store.get_experiment(&req.experiment_id)?;
    Ok(wire::ExperimentReply {
        experiment: st.experiment_out(&e),
    })
}

/// `GET experiments/get-by-name`.
pub fn get_experiment_by_name(
    st: &AppState,
    wire::GetExperimentByName(req): wire::GetExperimentByName,
) -> ApiResult<wire::ExperimentReply> {
    let name = req.experiment_name;
    match st.store.get_experiment_by_name(&name)? {
        Some(e) => Ok(wire::ExperimentReply {
            experiment: st.experiment_out(&e),
        }),
        None => Err(ApiError::not_found(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

/// `POST|GET experiments/search`.
pub fn search_experiments(
    st: &AppState,
    wire::SearchExperiments(req): wire::SearchExperiments,
) -> ApiResult<wire::ExperimentsPage> {
    let q = ExperimentQuery {
        max_results: page_size(req.max_results, DEFAULT_MAX_RESULTS, None)?,
        filter: req.filter.unwrap_or_default(),
        view_type: req.view_type.unwrap_or_default(),
        order_by: req.order_by,
        page_token: req.page_token,
    };
    let page = st.store.search_experiments(&q)?;
    Ok(wire::ExperimentsPage {
        experiments: page.items.iter().map(|e| st.experiment_out(e)).collect(),
        next_page_token: page.next_page_token,
    })
}

/// `POST experiments/update` (rename).
pub fn update_experiment(
    st: &AppState,
    wire::UpdateExperiment(req): wire::UpdateExperiment,
) -> ApiResult<Empty> {
    st.store
        .rename_experiment(&req.experiment_id, &req.new_name)?;
    Ok(Empty {})
}

/// `POST experiments/delete`.
pub fn delete_experiment(
    st: &AppState,
    wire::DeleteExperiment(req): wire::DeleteExperiment,
) -> ApiResult<Empty> {
    st.store.delete_experiment(&req.experiment_id)?;
    Ok(Empty {})
}

/// `POST experiments/restore`.
pub fn restore_experiment(
    st: &AppState,
    wire::RestoreExperiment(req): wire::RestoreExperiment,
) -> ApiResult<Empty> {
    st.store.restore_experiment(&req.experiment_id)?;
    Ok(Empty {})
}

/// `POST experiments/set-experiment-tag`.
pub fn set_experiment_tag(
    st: &AppState,
    wire::SetExperimentTag(req): wire::SetExperimentTag,
) -> ApiResult<Empty> {
    st.store
        .set_experiment_tag(&req.experiment_id, &Tag::new(req.key, req.value))?;
    Ok(Empty {})
}

/// `POST experiments/delete-experiment-tag`.
pub fn delete_experiment_tag(
    st: &AppState,
    wire::DeleteExperimentTag(req): wire::DeleteExperimentTag,
) -> ApiResult<Empty> {
    st.store
        .delete_experiment_tag(&req.experiment_id, &req.key)?;
    Ok(Empty {})
}

// ---------------------------------------------------------------------------------------
// Runs.

/// `POST runs/create`.
pub fn create_run(
    st: &AppState,
    wire::CreateRun(req): wire::CreateRun,
) -> ApiResult<wire::RunReply> {
    let experiment = req
        .experiment_id
        .unwrap_or_else(ExperimentId::default_experiment);
    let start = RunStart {
        run_name: req.run_name,
        user_id: req.user_id,
        start_time: req.start_time,
        tags: wire::into_all(req.tags),
    };
    let run = st.store.create_run(&experiment, start)?;
    Ok(wire::RunReply {
        run: st.run_out(&run),
    })
}

/// `GET runs/get` (`run_id` or the legacy `run_uuid`).
pub fn get_run(st: &AppState, wire::GetRun(req): wire::GetRun) -> ApiResult<wire::RunReply> {
    let run = st.store.get_run(&req.run_id)?;
    Ok(wire::RunReply {
        run: st.run_out(&run),
    })
}

/// `POST runs/update`.
pub fn update_run(
    st: &AppState,
    wire::UpdateRun(req): wire::UpdateRun,
) -> ApiResult<wire::RunInfoReply> {
    let update = RunUpdate {
        status: req.status,
        end_time: req.end_time,
        run_name: req.run_name,
    };
    let info = st.store.update_run(&req.run_id, update)?;
    Ok(wire::RunInfoReply {
        run_info: st.info_out(&info),
    })
}

/// `POST runs/delete`.
pub fn delete_run(st: &AppState, wire::DeleteRun(req): wire::DeleteRun) -> ApiResult<Empty> {
    st.store.delete_run(&req.run_id)?;
    Ok(Empty {})
}

/// `POST runs/restore`.
pub fn restore_run(st: &AppState, wire::RestoreRun(req): wire::RestoreRun) -> ApiResult<Empty> {
    st.store.restore_run(&req.run_id)?;
    Ok(Empty {})
}

/// `POST runs/log-metric`.
pub fn log_metric(st: &AppState, wire::LogMetric(req): wire::LogMetric) -> ApiResult<Empty> {
    let run_id = req.run_id.clone();
    let point = wire::Metric::from(req);
    match point.for_model(&run_id) {
        Some(m) => st.store.log_model_metrics(&[m])?,
        None => st.store.log_metric(&run_id, &point.into())?,
    }
    Ok(Empty {})
}

/// `POST runs/log-parameter`.
pub fn log_param(st: &AppState, wire::LogParam(req): wire::LogParam) -> ApiResult<Empty> {
    st.store
        .log_param(&req.run_id, &Param::new(req.key, req.value))?;
    Ok(Empty {})
}

/// `POST runs/set-tag`.
pub fn set_tag(st: &AppState, wire::SetTag(req): wire::SetTag) -> ApiResult<Empty> {
    st.store
        .set_tag(&req.run_id, &Tag::new(req.key, req.value))?;
    Ok(Empty {})
}

/// `POST runs/delete-tag`.
pub fn delete_tag(st: &AppState, wire::DeleteTag(req): wire::DeleteTag) -> ApiResult<Empty> {
    st.store.delete_tag(&req.run_id, &req.key)?;
    Ok(Empty {})
}

/// `POST runs/log-batch`.
///
/// Metrics that name a logged model go into its metrics too: the models are checked
/// first, then the rest of the batch is logged, then those metrics.
pub fn log_batch(st: &AppState, wire::LogBatch(req): wire::LogBatch) -> ApiResult<Empty> {
    validate_batch_size(req.metrics.len(), req.params.len(), req.tags.len())?;
    let (linked, plain): (Vec<_>, Vec<_>) = req
        .metrics
        .into_iter()
        .partition(|m| m.link.model_id.is_some());
    let linked: Vec<LoggedModelMetric> = linked
        .iter()
        .filter_map(|m| m.for_model(&req.run_id))
        .collect();
    let mut models: Vec<&str> = linked.iter().map(|m| m.model_id.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    for model_id in models {
        st.store.get_logged_model(model_id, false)?;
    }
    let metrics: Vec<Metric> = wire::into_all(plain);
    let params: Vec<Param> = wire::into_all(req.params);
    let tags: Vec<Tag> = wire::into_all(req.tags);
    st.store.log_batch(&req.run_id, &metrics, &params, &tags)?;
    if !linked.is_empty() {
        st.store.log_model_metrics(&linked)?;
    }
    Ok(Empty {})
}

/// `POST runs/search`.
pub fn search_runs(
    st: &AppState,
    wire::SearchRuns(req): wire::SearchRuns,
) -> ApiResult<wire::RunsPage> {
    let q = RunQuery {
        max_results: page_size(
            req.max_results,
            DEFAULT_MAX_RESULTS,
            Some(MAX_RESULTS_LIMIT),
        )?,
        experiment_ids: req.experiment_ids.into_iter().map(ExperimentId).collect(),
        filter: req.filter.unwrap_or_default(),
        view_type: req.run_view_type.unwrap_or_default(),
        order_by: req.order_by,
        page_token: req.page_token,
    };
    if q.experiment_ids.is_empty() {
        return Ok(wire::RunsPage::default());
    }
    let page = st.store.search_runs(&q)?;
    Ok(wire::RunsPage {
        runs: page.items.iter().map(|r| st.run_out(r)).collect(),
        next_page_token: page.next_page_token,
    })
}

/// `GET metrics/get-history` (paged when `max_results` is given).
pub fn get_metric_history(
    st: &AppState,
    wire::GetMetricHistory(req): wire::GetMetricHistory,
) -> ApiResult<wire::MetricsPage> {
    let (id, key, token) = (&req.run_id, &req.metric_key, req.page_token.as_deref());
    let page = match (req.max_results, token) {
        (None, None) => Page::last(st.store.get_metric_history(id, key)?),
        (n, _) => {
            let size = page_size(n, usize::MAX / 2, None)?;
            st.store.get_metric_history_page(id, key, size, token)?
        }
    };
    Ok(wire::MetricsPage {
        metrics: wire::all(&page.items),
        next_page_token: page.next_page_token,
    })
}

/// `GET artifacts/list`: files of a run's artifact directory, relative to the run root.
pub fn list_run_artifacts(
    st: &AppState,
    wire::ListArtifacts(req): wire::ListArtifacts,
) -> ApiResult<wire::ArtifactListing> {
    let info = st.store.get_run_info(&req.run_id)?;
    let path = req.path.unwrap_or_default();
    let files = st.list_run_artifacts(&info.artifact_uri, &path)?;
    Ok(wire::ArtifactListing {
        root_uri: st.public_artifact_uri(&info.artifact_uri),
        files: wire::all(&files),
    })
}

/// `POST runs/log-inputs`.
pub fn log_inputs(st: &AppState, wire::LogInputs(req): wire::LogInputs) -> ApiResult<Empty> {
    let inputs: Vec<DatasetInput> = wire::into_all(req.datasets);
    st.store.log_inputs(&req.run_id, &inputs)?;
    Ok(Empty {})
}

/// `POST runs/outputs`.
pub fn log_outputs(st: &AppState, wire::LogOutputs(req): wire::LogOutputs) -> ApiResult<Empty> {
    let outputs: Vec<ModelOutput> = wire::into_all(req.models);
    st.store.log_outputs(&req.run_id, &outputs)?;
    Ok(Empty {})
}

impl AppState {
    /// A logged model as clients see it (artifact URI in its public form).
    fn model_out(&self, m: &LoggedModel) -> wire::LoggedModel {
        let mut out = wire::LoggedModel::from(m);
        out.info.artifact_uri = self.public_artifact_uri(&out.info.artifact_uri);
        out
    }

    fn model_reply(&self, m: &LoggedModel) -> wire::LoggedModelReply {
        wire::LoggedModelReply {
            model: self.model_out(m),
        }
    }
}

/// `POST logged-models`.
pub fn create_logged_model(
    st: &AppState,
    wire::CreateLoggedModel(req): wire::CreateLoggedModel,
) -> ApiResult<wire::LoggedModelReply> {
    let new = NewLoggedModel {
        name: req.name,
        model_type: req.model_type,
        source_run_id: req.source_run_id,
        tags: wire::into_all(req.tags),
        params: wire::into_all(req.params),
    };
    let m = st.store.create_logged_model(&req.experiment_id, &new)?;
    Ok(st.model_reply(&m))
}

/// `GET logged-models/<id>`.
pub fn get_logged_model(
    st: &AppState,
    wire::GetLoggedModel(req): wire::GetLoggedModel,
) -> ApiResult<wire::LoggedModelReply> {
    let m = st
        .store
        .get_logged_model(&req.model_id, req.allow_deleted)?;
    Ok(st.model_reply(&m))
}

/// `PATCH logged-models/<id>` (finalize).
pub fn finalize_logged_model(
    st: &AppState,
    wire::FinalizeLoggedModel(req): wire::FinalizeLoggedModel,
) -> ApiResult<wire::LoggedModelReply> {
    let m = st.store.finalize_logged_model(&req.model_id, req.status)?;
    Ok(st.model_reply(&m))
}

/// `DELETE logged-models/<id>`.
pub fn delete_logged_model(
    st: &AppState,
    wire::DeleteLoggedModel(req): wire::DeleteLoggedModel,
) -> ApiResult<Empty> {
    st.store.delete_logged_model(&req.model_id)?;
    Ok(Empty {})
}

/// `PATCH logged-models/<id>/tags`.
pub fn set_logged_model_tags(
    st: &AppState,
    wire::SetLoggedModelTags(req): wire::SetLoggedModelTags,
) -> ApiResult<Empty> {
    let tags: Vec<Tag> = wire::into_all(req.tags);
    st.store.set_logged_model_tags(&req.model_id, &tags)?;
    Ok(Empty {})
}

/// `DELETE logged-models/<id>/tags/<key>`.
pub fn delete_logged_model_tag(
    st: &AppState,
    wire::DeleteLoggedModelTag(req): wire::DeleteLoggedModelTag,
) -> ApiResult<Empty> {
    st.store
        .delete_logged_model_tag(&req.model_id, &req.tag_key)?;
    Ok(Empty {})
}

/// `POST logged-models/<id>/params`.
pub fn log_logged_model_params(
    st: &AppState,
    wire::LogLoggedModelParams(req): wire::LogLoggedModelParams,
) -> ApiResult<Empty> {
    let params: Vec<Param> = wire::into_all(req.params);
    st.store.log_logged_model_params(&req.model_id, &params)?;
    Ok(Empty {})
}

/// `POST logged-models/search`.
pub fn search_logged_models(
    st: &AppState,
    wire::SearchLoggedModels(req): wire::SearchLoggedModels,
) -> ApiResult<wire::LoggedModelsPage> {
    let q = LoggedModelQuery {
        experiment_ids: req.experiment_ids.into_iter().map(ExperimentId).collect(),
        filter: req.filter.unwrap_or_default(),
        max_results: page_size(req.max_results, DEFAULT_MAX_RESULTS, None)?,
        order_by: req
            .order_by
            .into_iter()
            .map(|o| LoggedModelOrder {
                field_name: o.field_name,
                ascending: o.ascending,
                dataset_name: o.dataset_name,
                dataset_digest: o.dataset_digest,
            })
            .collect(),
        page_token: req.page_token,
    };
    let page = st.store.search_logged_models(&q)?;
    Ok(wire::LoggedModelsPage {
        models: page.items.iter().map(|m| st.model_out(m)).collect(),
        next_page_token: page.next_page_token,
    })
}

/// `{"registered_model": ...}` of `m`.
fn registered_reply(m: &RegisteredModel) -> wire::RegisteredModelReply {
    wire::RegisteredModelReply {
        registered_model: m.into(),
    }
}

/// `POST registered-models/create`.
pub fn create_registered_model(
    st: &AppState,
    wire::CreateRegisteredModel(req): wire::CreateRegisteredModel,
) -> ApiResult<wire::RegisteredModelReply> {
    let tags: Vec<Tag> = wire::into_all(req.tags);
    let m = st
        .store
        .create_registered_model(&req.name, req.description.as_deref(), &tags)?;
    Ok(registered_reply(&m))
}

/// `GET registered-models/get`.
pub fn get_registered_model(
    st: &AppState,
    wire::GetRegisteredModel(req): wire::GetRegisteredModel,
) -> ApiResult<wire::RegisteredModelReply> {
    Ok(registered_reply(&st.store.get_registered_model(&req.name)?))
}

/// `POST registered-models/rename`.
pub fn rename_registered_model(
    st: &AppState,
    wire::RenameRegisteredModel(req): wire::RenameRegisteredModel,
) -> ApiResult<wire::RegisteredModelReply> {
    let m = st.store.rename_registered_model(&req.name, &req.new_name)?;
    Ok(registered_reply(&m))
}

/// `PATCH registered-models/update`.
pub fn update_registered_model(
    st: &AppState,
    wire::UpdateRegisteredModel(req): wire::UpdateRegisteredModel,
) -> ApiResult<wire::RegisteredModelReply> {
    let m = st
        .store
        .update_registered_model(&req.name, &req.description)?;
    Ok(registered_reply(&m))
}

/// `DELETE registered-models/delete`.
pub fn delete_registered_model(
    st: &AppState,
    wire::DeleteRegisteredModel(req): wire::DeleteRegisteredModel,
) -> ApiResult<Empty> {
    st.store.delete_registered_model(&req.name)?;
    Ok(Empty {})
}

/// `GET registered-models/search`.
pub fn search_registered_models(
    st: &AppState,
    wire::SearchRegisteredModels(req): wire::SearchRegisteredModels,
) -> ApiResult<wire::RegisteredModelsPage> {
    let q = RegistryQuery {
        filter: req.filter.unwrap_or_default(),
        max_results: page_size(req.max_results, DEFAULT_MAX_RESULTS, None)?,
        order_by: req.order_by,
        page_token: req.page_token,
    };
    let page = st.store.search_registered_models(&q)?;
    Ok(wire::RegisteredModelsPage {
        registered_models: wire::all(&page.items),
        next_page_token: page.next_page_token,
    })
}

/// `POST registered-models/set-tag`.
pub fn set_registered_model_tag(
    st: &AppState,
    wire::SetRegisteredModelTag(req): wire::SetRegisteredModelTag,
) -> ApiResult<Empty> {
    st.store
        .set_registered_model_tag(&req.name, &Tag::new(req.key, req.value))?;
    Ok(Empty {})
}

/// `DELETE registered-models/delete-tag`.
pub fn delete_registered_model_tag(
    st: &AppState,
    wire::DeleteRegisteredModelTag(req): wire::DeleteRegisteredModelTag,
) -> ApiResult<Empty> {
    st.store.delete_registered_model_tag(&req.name, &req.key)?;
    Ok(Empty {})
}

/// `{"model_version": ...}` of `v`.
fn version_reply(v: &ModelVersion) -> wire::ModelVersionReply {
    wire::ModelVersionReply {
        model_version: v.into(),
    }
}

/// `POST model-versions/create`.
pub fn create_model_version(
    st: &AppState,
    wire::CreateModelVersion(req): wire::CreateModelVersion,
) -> ApiResult<wire::ModelVersionReply> {
    let new = NewModelVersion {
        source: req.source,
        run_id: req.run_id,
        model_id: req.model_id,
        description: req.description,
        tags: wire::into_all(req.tags),
    };
    Ok(version_reply(
        &st.store.create_model_version(&req.name, &new)?,
    ))
}

/// `GET model-versions/get`.
pub fn get_model_version(
    st: &AppState,
    wire::GetModelVersion(req): wire::GetModelVersion,
) -> ApiResult<wire::ModelVersionReply> {
    let v = st
        .store
        .get_model_version(&req.name, parse_version(&req.version)?)?;
    Ok(version_reply(&v))
}

/// `PATCH model-versions/update`.
pub fn update_model_version(
    st: &AppState,
    wire::UpdateModelVersion(req): wire::UpdateModelVersion,
) -> ApiResult<wire::ModelVersionReply> {
    let v =
        st.store
            .update_model_version(&req.name, parse_version(&req.version)?, &req.description)?;
    Ok(version_reply(&v))
}

/// `DELETE model-versions/delete`.
pub fn delete_model_version(
    st: &AppState,
    wire::DeleteModelVersion(req): wire::DeleteModelVersion,
) -> ApiResult<Empty> {
    st.store
        .delete_model_version(&req.name, parse_version(&req.version)?)?;
    Ok(Empty {})
}

/// `GET model-versions/search`.
pub fn search_model_versions(
    st: &AppState,
    wire::SearchModelVersions(req): wire::SearchModelVersions,
) -> ApiResult<wire::ModelVersionsPage> {
    let q = RegistryQuery {
        filter: req.filter.unwrap_or_default(),
        max_results: page_size(req.max_results, DEFAULT_MAX_RESULTS, None)?,
        order_by: req.order_by,
        page_token: req.page_token,
    };
    let page = st.store.search_model_versions(&q)?;
    Ok(wire::ModelVersionsPage {
        model_versions: wire::all(&page.items),
        next_page_token: page.next_page_token,
    })
}

/// `POST model-versions/set-tag`.
pub fn set_model_version_tag(
    st: &AppState,
    wire::SetModelVersionTag(req): wire::SetModelVersionTag,
) -> ApiResult<Empty> {
    st.store.set_model_version_tag(
        &req.name,
        parse_version(&req.version)?,
        &Tag::new(req.key, req.value),
    )?;
    Ok(Empty {})
}

/// `DELETE model-versions/delete-tag`.
pub fn delete_model_version_tag(
    st: &AppState,
    wire::DeleteModelVersionTag(req): wire::DeleteModelVersionTag,
) -> ApiResult<Empty> {
    st.store
        .delete_model_version_tag(&req.name, parse_version(&req.version)?, &req.key)?;
    Ok(Empty {})
}

/// `GET model-versions/get-download-uri`: the files' location in its public form.
pub fn get_model_version_download_uri(
    st: &AppState,
    wire::GetModelVersionDownloadUri(req): wire::GetModelVersionDownloadUri,
) -> ApiResult<wire::DownloadUri> {
    let uri = st
        .store
        .get_model_version_download_uri(&req.name, parse_version(&req.version)?)?;
    Ok(wire::DownloadUri {
        artifact_uri: st.public_artifact_uri(&uri),
    })
}

/// `POST registered-models/alias`.
pub fn set_registered_model_alias(
    st: &AppState,
    wire::SetRegisteredModelAlias(req): wire::SetRegisteredModelAlias,
) -> ApiResult<Empty> {
    st.store
        .set_registered_model_alias(&req.name, &req.alias, parse_version(&req.version)?)?;
    Ok(Empty {})
}

/// `DELETE registered-models/alias`.
pub fn delete_registered_model_alias(
    st: &AppState,
    wire::DeleteRegisteredModelAlias(req): wire::DeleteRegisteredModelAlias,
) -> ApiResult<Empty> {
    st.store
        .delete_registered_model_alias(&req.name, &req.alias)?;
    Ok(Empty {})
}

/// `GET registered-models/alias`.
pub fn get_model_version_by_alias(
    st: &AppState,
    wire::GetModelVersionByAlias(req): wire::GetModelVersionByAlias,
) -> ApiResult<wire::ModelVersionReply> {
    let v = st.store.get_model_version_by_alias(&req.name, &req.alias)?;
    Ok(version_reply(&v))
}

/// `POST model-versions/transition-stage`.
pub fn transition_model_version_stage(
    st: &AppState,
    wire::TransitionModelVersionStage(req): wire::TransitionModelVersionStage,
) -> ApiResult<wire::ModelVersionReply> {
    let v = st.store.transition_model_version_stage(
        &req.name,
        parse_version(&req.version)?,
        ModelStage::parse(&req.stage)?,
        req.archive_existing_versions,
    )?;
    Ok(version_reply(&v))
}

/// `GET|POST registered-models/get-latest-versions`.
pub fn get_latest_versions(
    st: &AppState,
    wire::GetLatestVersions(req): wire::GetLatestVersions,
) -> ApiResult<wire::ModelVersionsPage> {
    let stages = req
        .stages
        .iter()
        .map(|s| ModelStage::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let versions = st.store.get_latest_versions(&req.name, &stages)?;
    Ok(wire::ModelVersionsPage {
        model_versions: wire::all(&versions),
        next_page_token: None,
    })
}

/// `GET /api/3.0/mlflow/server-info`.
pub fn server_info(_: &AppState, _: Empty) -> ApiResult<wire::ServerInfo> {
    Ok(wire::ServerInfo {
        store_type: "SqlStore".into(),
        server: "hyperflow".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        multipart_uploads_enabled: false,
    })
}
