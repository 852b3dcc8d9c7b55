//! Kernel builds from source: scratch tree, config fragments, out-of-tree
//! build directories, ccache, artifacts.
