//! The error a cache lookup returns: the loader's own error, with the key it was loading.

use std::error::Error;
use std::fmt;

/// A loader failed; the cache is left as it was before the call.
///
/// Boxed so that `Result<KeyRef, LoadError<E>>` stays small on the hit path.
#[derive(Debug)]
pub struct LoadError<E>(Box<Failure<E>>);

#[derive(Debug)]
struct Failure<E> {
    id: String,
    created: i64,
    source: E,
}

impl<E> LoadError<E> {
    #[cold]
    pub(crate) fn new(id: &str, created: i64, source: E) -> Self {
        Self(Box::new(Failure {
            id: id.to_owned(),
            created,
            source,
        }))
    }

    /// The id of the key that was being loaded.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The `created` asked for (0 for a latest lookup).
    pub fn created(&self) -> i64 {
        self.0.created
    }

    /// The loader's error.
    pub fn loader_error(&self) -> &E {
        &self.0.source
    }

    /// Gives back the loader's error.
    pub fn into_loader_error(self) -> E {
        self.0.source
    }
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.created == 0 {
            write!(
                f,
                "loading the latest key of {:?} failed: {}",
                self.0.id, self.0.source
            )
        } else {
            write!(
                f,
                "loading key {:?} created {} failed: {}",
                self.0.id, self.0.created, self.0.source
            )
        }
    }
}

impl<E: Error + 'static> Error for LoadError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0.source)
    }
}
