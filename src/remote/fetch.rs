//! Downloads for verify.
