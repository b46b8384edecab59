//! The field mapping and logsource routing shipped with loglynx: `pipelines/loglynx.yml`, a
//! pySigma-style processing pipeline (read by rsigma-eval), compiled into the binary; and the
//! user's own pipelines (`[detect] pipelines`), applied with it.

use std::path::PathBuf;

use rsigma_eval::Pipeline;

use crate::DetectError;

/// The text of the built-in pipeline (`crates/detect/pipelines/loglynx.yml`).
pub const LOGLYNX_PIPELINE: &str = include_str!("../pipelines/loglynx.yml");

/// Prefix of the ids of the routing transformations: a rule that one of them matched applies to
/// loglynx events.
pub(crate) const ROUTE_PREFIX: &str = "route_";

/// The built-in pipeline, parsed.
pub fn loglynx_pipeline() -> Result<Pipeline, DetectError> {
    rsigma_eval::parse_pipeline(LOGLYNX_PIPELINE).map_err(|source| DetectError::Pipeline { source })
}

/// The user's processing pipelines (`[detect] pipelines`: pySigma / rsigma pipeline YAML
/// files), parsed; the first that cannot be read or parsed is an error naming it.
pub fn read_pipelines(paths: &[PathBuf]) -> Result<Vec<Pipeline>, DetectError> {
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|source| DetectError::ReadPath { path: path.clone(), source })?;
            rsigma_eval::parse_pipeline(&text).map_err(|e| DetectError::UserPipeline {
                path: path.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_pipeline_parses() {
        let p = super::loglynx_pipeline().unwrap();
        assert_eq!(p.name, "loglynx");
    }
}
