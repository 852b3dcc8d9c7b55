//! kharness
