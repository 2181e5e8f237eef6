//! Optional vision-model adapter.
