use s3s::dto::{
    CompleteMultipartUploadInput, CopyObjectInput, DeleteBucketInput, DeleteObjectInput, DeleteObjectsInput,
    PutObjectInput,
};

/// What a write changes: the cache forgets it before the write is forwarded and again
/// after the upstream answered, so no reader gets old bytes once the write is acknowledged.
#[derive(Debug)]
pub(crate) enum Written {
    /// Objects of one bucket: key and, for writes that name one, version.
    Objects { bucket: String, keys: Vec<(String, Option<String>)> },
    /// A whole bucket.
    Bucket(String),
}

/// A write operation's input.
pub(crate) trait Writes {
    /// What it changes.
    fn written(&self) -> Written;
}

/// Implements [`Writes`] for inputs that write the object at `bucket`/`key`.
macro_rules! writes_one_object {
    ($($input:ty),*) => {$(
        impl Writes for $input {
            fn written(&self) -> Written {
                Written::Objects { bucket: self.bucket.clone(), keys: vec![(self.key.clone(), None)] }
            }
        }
    )*};
}

writes_one_object!(PutObjectInput, CopyObjectInput, CompleteMultipartUploadInput);

impl Writes for DeleteObjectInput {
    fn written(&self) -> Written {
        let mut keys = vec![(self.key.clone(), None)];
        if let Some(version) = &self.version_id {
            keys.push((self.key.clone(), Some(version.clone())));
        }
        Written::Objects { bucket: self.bucket.clone(), keys }
    }
}

impl Writes for DeleteObjectsInput {
    fn written(&self) -> Written {
        let keys = self
            .delete
            .objects
            .iter()
            .flat_map(|o| [(o.key.clone(), None), (o.key.clone(), o.version_id.clone())])
            .collect();
        Written::Objects { bucket: self.bucket.clone(), keys }
    }
}

impl Writes for DeleteBucketInput {
    fn written(&self) -> Written {
        Written::Bucket(self.bucket.clone())
    }
}
