//! Turning a webroot into a snapshot: walking it, the tar stream cut into members, and
//! compressing each member.

pub(crate) mod compress;
pub(crate) mod excludes;
pub(crate) mod member_splitter;
pub(crate) mod nextcloud_version;
pub(crate) mod source_walk;
pub(crate) mod tar_pack;
