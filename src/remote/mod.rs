//! Publishing targets and downloads. One `enum` per backend family, no trait
//! objects: the backends are fixed.

pub mod dir;
pub mod fetch;
