//! Operations the gateway shapes itself instead of forwarding them unchanged,
//! one file per operation.

mod complete_multipart_upload;
mod get_object;
mod head_object;
mod list_buckets;

pub(crate) use complete_multipart_upload::complete_multipart_upload;
pub(crate) use get_object::get_object;
pub(crate) use head_object::head_object;
pub(crate) use list_buckets::list_buckets;
