//! What a run will do: the [`Plan`] resolved from flags and config before
//! anything boots (stored as `plan.json`), its split into shards, and the
//! hash that says whether two shards belong to one plan.

pub mod bisect;
mod hash;
mod model;
mod series;
mod shard;

pub use hash::plan_hash;
pub use model::{DEFAULT_MAX_BOOTS, Plan, reps_by_default};
pub use series::{BuildOptions, SeriesPlan, StepInfo, TreeRunPlan, step_label};
pub use shard::{Part, ShardInfo, ShardSpec, info as shard_info, split};
