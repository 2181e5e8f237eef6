//! Handwritten and printed cash-book pages.
