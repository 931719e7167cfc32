//! MLflow 3's model APIs on [`Tracker`]: logging a serde-serializable model as a logged
//! model, the model registry, and loading a model back by `models:/` or `runs:/` URI.

use super::{ActiveRun, Tracker, all_pages, chunked};
use crate::tracking::artifacts::{ArtifactRepo, join_path, normalized};
use crate::tracking::mlmodel::{MLMODEL_FILE, MODEL_DATA_FILE, MlModel, ModelError, ModelUri};
use crate::tracking::model::*;
use crate::tracking::store::{MAX_BATCH_PARAMS, Result, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Options of [`Tracker::log_model`]: the model's name and what to create it with. A `&str`
/// converts into options with that name.
#[derive(Debug, Clone, PartialEq)]
pub struct LogModel {
    name: String,
    model_type: Option<String>,
    params: Vec<Param>,
    tags: Vec<Tag>,
    step: i64,
}

impl LogModel {
    /// A model called `name` (as MLflow's `log_model(name=...)`), at step 0.
    pub fn new(name: impl Into<String>) -> Self {
        LogModel {
            name: name.into(),
            model_type: None,
            params: Vec::new(),
            tags: Vec::new(),
            step: 0,
        }
    }
    /// The kind of model (free text, such as `regressor`).
    pub fn model_type(mut self, model_type: impl Into<String>) -> Self {
        self.model_type = Some(model_type.into());
        self
    }
    /// Add a param of the model (its value converted with `to_string`).
    pub fn param(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.params.push(Param::new(key, value.to_string()));
        self
    }
    /// Add params of the model.
    pub fn params<K: Into<String>, V: ToString>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.params.extend(
            params
                .into_iter()
                .map(|(k, v)| Param::new(k, v.to_string())),
        );
        self
    }
    /// Add a tag of the model.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(Tag::new(key, value));
        self
    }
    /// The step of the run the model is logged at (default 0).
    pub fn step(mut self, step: i64) -> Self {
        self.step = step;
        self
    }
}

impl From<&str> for LogModel {
    fn from(name: &str) -> Self {
        LogModel::new(name)
    }
}

impl From<String> for LogModel {
    fn from(name: String) -> Self {
        LogModel::new(name)
    }
}

/// A search of registered models or model versions, run with
/// [`Tracker::search_registered_models`] or [`Tracker::search_model_versions`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRegistry {
    query: RegistryQuery,
}

impl Default for SearchRegistry {
    fn default() -> Self {
        SearchRegistry {
            query: RegistryQuery {
                max_results: 100,
                ..RegistryQuery::default()
            },
        }
    }
}

impl SearchRegistry {
    /// Everything, 100 per page.
    pub fn new() -> Self {
        Self::default()
    }
    /// Filter: comparisons joined by `AND` on `name` and `tags.<key>` (versions also on
    /// `run_id`, `source` and `model_id`), e.g. `name LIKE 'churn%'`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.query.filter = filter.into();
        self
    }
    /// Page size.
    pub fn max_results(mut self, n: usize) -> Self {
        self.query.max_results = n;
        self
    }
    /// Continue from a previous page's `next_page_token`.
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.query.page_token = Some(token.into());
        self
    }
    /// The store-level query.
    pub fn query(&self) -> &RegistryQuery {
        &self.query
    }
}

impl Tracker {
    // ---- logged models ----------------------------------------------------------------

    /// Log `model` as MLflow 3's `log_model` does: create a logged model whose source run
    /// is `run_id` (with the run's params, overridden by those of `opts`), record it as an
    /// output of the run, write its directory (`model.json`, serialized with serde, and an
    /// `MLmodel` file with the `hyperflow` flavor) into the logged model's artifact
    /// location, and finalize it READY, or UPLOAD_FAILED when any step after its creation
    /// failed (that error is returned). Load it back with [`Tracker::load_model`] and
    /// `models:/<model_id>`.
    pub fn log_model(
        &self,
        run_id: &str,
        model: &impl Serialize,
        opts: impl Into<LogModel>,
    ) -> Result<LoggedModel> {
        let opts = opts.into();
        // Serialized first: a model serde refuses creates nothing.
        let data = serde_json::to_vec_pretty(model).map_err(|e| {
            StoreError::Serialization(format!("serializing the model '{}': {e}", opts.name))
        })?;
        let run = self.store.get_run(run_id)?;
        let mut params = run.data.params;
        params.retain(|p| !opts.params.iter().any(|o| o.key == p.key));
        params.extend(opts.params);
        let logged = self.store.create_logged_model(
            &run.info.experiment_id,
            &NewLoggedModel {
                name: Some(opts.name),
                model_type: opts.model_type,
                source_run_id: Some(run_id.to_string()),
                tags: opts.tags,
                params: Vec::new(),
            },
        )?;
        let filled = self.fill_logged_model(&logged, run_id, &params, opts.step, &data);
        let status = match filled {
            Ok(()) => LoggedModelStatus::Ready,
            Err(_) => LoggedModelStatus::UploadFailed,
        };
        let finalized = self.store.finalize_logged_model(&logged.model_id, status);
        filled?;
        finalized
    }

    /// Give a new logged model its params, link it to its run at `step`, and write its
    /// directory: its data and its `MLmodel` file.
    fn fill_logged_model(
        &self,
        logged: &LoggedModel,
        run_id: &str,
        params: &[Param],
        step: i64,
        data: &[u8],
    ) -> Result<()> {
        for chunk in chunked(params, MAX_BATCH_PARAMS) {
            self.store
                .log_logged_model_params(&logged.model_id, chunk)?;
        }
        self.store.log_outputs(
            run_id,
            &[ModelOutput {
                model_id: logged.model_id.clone(),
                step,
            }],
        )?;
        let repo = self.store.artifact_repo(&logged.artifact_uri)?;
        let descriptor = MlModel::hyperflow(
            &logged.artifact_uri,
            Some(&logged.model_id),
            Some(run_id),
            now_ms(),
        );
        repo.write_bytes(MODEL_DATA_FILE, data)?;
        repo.write_bytes(MLMODEL_FILE, descriptor.to_yaml().as_bytes())
    }

    /// Get a logged model (not a deleted one).
    pub fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.store.get_logged_model(model_id, false)
    }

    /// Search logged models.
    pub fn search_logged_models(&self, query: &LoggedModelQuery) -> Result<Page<LoggedModel>> {
        self.store.search_logged_models(query)
    }

    /// The active logged models whose source run is `run_id`, newest first.
    pub fn logged_models_of_run(&self, run_id: &str) -> Result<Vec<LoggedModel>> {
        let run = self.store.get_run_info(run_id)?;
        let query = LoggedModelQuery {
            experiment_ids: vec![run.experiment_id],
            filter: String::new(),
            max_results: 100,
            order_by: Vec::new(),
            page_token: None,
        };
        let mut models = all_pages(
            &query,
            |q| &mut q.page_token,
            |q| self.store.search_logged_models(q),
        )?;
        models.retain(|m| m.source_run_id.as_deref() == Some(run_id));
        Ok(models)
    }

    /// Soft-delete a logged model.
    pub fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.store.delete_logged_model(model_id)
    }

    // ---- loading ----------------------------------------------------------------------

    /// Load a model written by [`Tracker::log_model`] (or by earlier hyperflow versions
    /// under a run's artifacts) from `models:/<name>/<version>`, `models:/<name>@<alias>`,
    /// `models:/<model_id>` or `runs:/<run_id>/<path>`: its `MLmodel` file names the data
    /// file of the `hyperflow` flavor, which is deserialized as `T`. A model without that
    /// flavor (such as one logged by MLflow's Python flavors) is [`ModelError::Flavor`].
    pub fn load_model<T: DeserializeOwned>(&self, uri: &str) -> Result<T, ModelError> {
        let (repo, dir, mlmodel) = self.open_model(uri)?;
        let flavor = mlmodel.hyperflow_flavor(uri)?;
        let path = join_path(&dir, &normalized(&flavor.data)?);
        let bytes = repo.read_bytes(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| ModelError::Data {
            uri: uri.to_string(),
            path: flavor.data,
            type_name: std::any::type_name::<T>(),
            reason: e.to_string(),
        })
    }

    /// The `MLmodel` file of the model at `uri` (any of [`ModelUri::FORMS`]).
    pub fn load_mlmodel(&self, uri: &str) -> Result<MlModel, ModelError> {
        Ok(self.open_model(uri)?.2)
    }

    /// The artifact repository holding the model at `uri`, its directory there, and its
    /// `MLmodel` file.
    fn open_model(
        &self,
        uri: &str,
    ) -> Result<(Box<dyn ArtifactRepo>, String, MlModel), ModelError> {
        let (repo, dir) = match ModelUri::parse(uri)? {
            ModelUri::Version { name, version } => {
                (self.version_files(&name, version)?, String::new())
            }
            ModelUri::Stage { name, stage } => {
                let stages: Vec<ModelStage> = stage.into_iter().collect();
                let newest = self
                    .store
                    .get_latest_versions(&name, &stages)?
                    .into_iter()
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| {
                        StoreError::NotFound(match stage {
                            Some(stage) => format!(
                                "Registered model '{name}' has no version in stage {}",
                                stage.as_str()
                            ),
                            None => format!("Registered model '{name}' has no versions"),
                        })
                    })?;
                (self.version_files(&name, newest.version)?, String::new())
            }
            ModelUri::Alias { name, alias } => {
                let version = self.store.get_model_version_by_alias(&name, &alias)?;
                (self.version_files(&name, version.version)?, String::new())
            }
            ModelUri::LoggedModel { model_id } => {
                let model = self.store.get_logged_model(&model_id, false)?;
                (
                    self.store.artifact_repo(&model.artifact_uri)?,
                    String::new(),
                )
            }
            ModelUri::Run { run_id, path } => (self.artifacts(&run_id)?, normalized(&path)?),
        };
        let text = repo
            .read_bytes(&join_path(&dir, MLMODEL_FILE))
            .map_err(|e| match e {
                StoreError::NotFound(_) => ModelError::MlModel {
                    uri: uri.to_string(),
                    reason: format!("there is no {MLMODEL_FILE} file: {e}"),
                },
                e => e.into(),
            })?;
        let mlmodel = MlModel::from_yaml(&String::from_utf8_lossy(&text), uri)?;
        Ok((repo, dir, mlmodel))
    }

    /// The artifact repository of a model version's files.
    fn version_files(&self, name: &str, version: i64) -> Result<Box<dyn ArtifactRepo>> {
        self.store
            .artifact_repo(&self.store.get_model_version_download_uri(name, version)?)
    }

    // ---- the model registry -----------------------------------------------------------

    /// Create a registered model; a taken name is [`StoreError::AlreadyExists`].
    pub fn create_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.store.create_registered_model(name, None, &[])
    }

    /// Create a registered model with a description and tags.
    pub fn create_registered_model_with(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel> {
        self.store.create_registered_model(name, description, tags)
    }

    /// Get a registered model (with its tags and aliases).
    pub fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.store.get_registered_model(name)
    }

    /// Rename a registered model.
    pub fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        self.store.rename_registered_model(name, new_name)
    }

    /// Set the description of a registered model.
    pub fn update_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel> {
        self.store.update_registered_model(name, description)
    }

    /// Delete a registered model with its tags.
    pub fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.store.delete_registered_model(name)
    }

    /// One page of a registered-model search, by name.
    pub fn search_registered_models(
        &self,
        search: &SearchRegistry,
    ) -> Result<Page<RegisteredModel>> {
        self.store.search_registered_models(&search.query)
    }

    /// All pages of a registered-model search.
    pub fn search_all_registered_models(
        &self,
        search: &SearchRegistry,
    ) -> Result<Vec<RegisteredModel>> {
        all_pages(
            &search.query,
            |q| &mut q.page_token,
            |q| self.store.search_registered_models(q),
        )
    }

    /// Set (upsert) a tag of a registered model.
    pub fn set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: impl Into<String>,
    ) -> Result<()> {
        self.store
            .set_registered_model_tag(name, &Tag::new(key, value))
    }

    /// Delete a tag of a registered model.
    pub fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.store.delete_registered_model_tag(name, key)
    }

    /// Register the model at `source` (`models:/<model_id>` or `runs:/<run_id>/<path>`)
    /// as the next version of registered model `name`, creating the registered model when
    /// it does not exist (MLflow's `register_model`).
    pub fn register_model(&self, source: &str, name: &str) -> Result<ModelVersion, ModelError> {
        match ModelUri::parse(source)? {
            ModelUri::LoggedModel { .. } | ModelUri::Run { .. } => {}
            registered => {
                return Err(ModelError::Uri {
                    uri: source.to_string(),
                    reason: format!(
                        "{registered} is already a registered version; register the logged \
                         model (models:/<model_id>) or the run's model (runs:/<run_id>/<path>)"
                    ),
                });
            }
        }
        match self.store.create_registered_model(name, None, &[]) {
            Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(self
            .store
            .create_model_version(name, &NewModelVersion::new(source))?)
    }

    /// Create the next version of registered model `name` (which must exist).
    pub fn create_model_version(&self, name: &str, new: &NewModelVersion) -> Result<ModelVersion> {
        self.store.create_model_version(name, new)
    }

    /// Get a model version.
    pub fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        self.store.get_model_version(name, version)
    }

    /// Set the description of a model version.
    pub fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion> {
        self.store.update_model_version(name, version, description)
    }

    /// Delete a model version with its tags and the aliases pointing at it.
    pub fn delete_model_version(&self, name: &str, version: i64) -> Result<()> {
        self.store.delete_model_version(name, version)
    }

    /// One page of a model-version search, by name then newest version first.
    pub fn search_model_versions(&self, search: &SearchRegistry) -> Result<Page<ModelVersion>> {
        self.store.search_model_versions(&search.query)
    }

    /// All pages of a model-version search.
    pub fn search_all_model_versions(&self, search: &SearchRegistry) -> Result<Vec<ModelVersion>> {
        all_pages(
            &search.query,
            |q| &mut q.page_token,
            |q| self.store.search_model_versions(q),
        )
    }

    /// Set (upsert) a tag of a model version.
    pub fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: impl Into<String>,
    ) -> Result<()> {
        self.store
            .set_model_version_tag(name, version, &Tag::new(key, value))
    }

    /// Delete a tag of a model version.
    pub fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        self.store.delete_model_version_tag(name, version, key)
    }

    /// Where the files of a model version are.
    pub fn get_model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
        self.store.get_model_version_download_uri(name, version)
    }

    /// Point alias `alias` of registered model `name` at `version` (moving it if set).
    pub fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
        self.store.set_registered_model_alias(name, alias, version)
    }

    /// Remove an alias of a registered model.
    pub fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.store.delete_registered_model_alias(name, alias)
    }

    /// Move version `version` of registered model `name` to `stage`; with
    /// `archive_existing`, the other versions in that stage move to Archived (MLflow's
    /// `transition_model_version_stage`).
    pub fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: ModelStage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        self.store
            .transition_model_version_stage(name, version, stage, archive_existing)
    }

    /// The newest version of registered model `name` in each of `stages` that has one
    /// (every stage when empty).
    pub fn get_latest_versions(
        &self,
        name: &str,
        stages: &[ModelStage],
    ) -> Result<Vec<ModelVersion>> {
        self.store.get_latest_versions(name, stages)
    }

    /// The version an alias of a registered model points at.
    pub fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.store.get_model_version_by_alias(name, alias)
    }
}

impl ActiveRun {
    /// Log `model` as a logged model of this run (see [`Tracker::log_model`]).
    ///
    /// ```
    /// use hyperflow::tracking::{RunOptions, Tracker};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let (db, root) = (dir.path().join("t.db"), dir.path().join("artifacts"));
    /// let store = hyperflow::tracking::SqliteStore::open_with_artifact_root(db, root)?;
    /// let tracker = Tracker::new(std::sync::Arc::new(store));
    /// let run = tracker.start_run(RunOptions::new())?;
    /// let logged = run.log_model(&vec![0.5, 2.0], "weights")?;
    /// let version = tracker.register_model(&format!("models:/{}", logged.model_id), "demo")?;
    /// tracker.set_registered_model_alias("demo", "champion", version.version)?;
    /// let back: Vec<f64> = tracker.load_model("models:/demo@champion")?;
    /// assert_eq!(back, [0.5, 2.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn log_model(
        &self,
        model: &impl Serialize,
        opts: impl Into<LogModel>,
    ) -> Result<LoggedModel> {
        self.tracker.log_model(self.id(), model, opts)
    }
}
