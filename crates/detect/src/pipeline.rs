//! The field mapping and logsource routing shipped with loglynx: `pipelines/loglynx.yml`, a
//! pySigma-style processing pipeline (read by rsigma-eval), compiled into the binary.

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

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_pipeline_parses() {
        let p = super::loglynx_pipeline().unwrap();
        assert_eq!(p.name, "loglynx");
    }
}
