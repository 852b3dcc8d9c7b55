//! zerocopy tests (see the catalogue in guest-tests/README.md).

use crate::framework::Test;

pub const TESTS: &[Test] = &[];
