//! Patch series: read them (quilt, format-patch directory, mbox, lore
//! thread), apply them in a scratch tree, and hash them.
