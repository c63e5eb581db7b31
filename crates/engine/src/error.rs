use coffer_blob::BlobError;
use coffer_meta::MetaError;
use coffer_types::NameError;

/// Every way an operation can fail, in S3's terms. The front end maps each
/// variant to an S3 error code and status in one place.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    AccessDenied(String),
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    /// A read reached a delete marker: 404 NoSuchKey when it was the latest
    /// version, 405 MethodNotAllowed when it was named by version id.
    #[error("{}", if *by_version { "The specified method is not allowed against this resource." } else { "The specified key does not exist." })]
    DeleteMarker {
        version_id: Option<String>,
        by_version: bool,
        last_modified_ms: i64,
    },
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    #[error("The requested bucket name is not available.")]
    BucketAlreadyExists,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("{0}")]
    InvalidBucketName(String),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidLocationConstraint(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    MalformedXml(String),
    #[error("{0}")]
    InvalidTag(String),
    // IAM errors, as the IAM API names them.
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    InvalidBucketState(String),
    /// A parameter outside its allowed values (IAM and STS `ValidationError`).
    #[error("{0}")]
    Validation(String),
    /// Session policies and tags too large to fit a session token.
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// Temporary credentials past their expiry.
    #[error("The provided token has expired.")]
    ExpiredToken,
    /// A session token that does not verify, does not belong to the access
    /// key, or whose role or user is gone.
    #[error("The provided token is malformed or otherwise invalid.")]
    InvalidToken,
    #[error("Object Lock configuration does not exist for this bucket")]
    ObjectLockConfigurationNotFound,
    #[error("The specified object does not have a ObjectLock configuration")]
    NoSuchObjectLockConfiguration,
    #[error("The retention period must be a positive integer value")]
    InvalidRetentionPeriod,
    #[error("Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")]
    InvalidBucketAclWithObjectOwnership,
    #[error("The bucket does not allow ACLs")]
    AccessControlListNotSupported,
    #[error("{0}")]
    UnresolvableGrantByEmailAddress(String),
    #[error("The bucket policy does not exist")]
    NoSuchBucketPolicy,
    #[error("{0}")]
    BadDigest(String),
    #[error("The Content-MD5 you specified is not valid.")]
    InvalidDigest,
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    #[error("Your metadata headers exceed the maximum allowed metadata size.")]
    MetadataTooLarge,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody,
    #[error(
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
    )]
    InvalidPart,
    #[error(
        "The list of parts was not in ascending order. The parts list must be specified in order by part number."
    )]
    InvalidPartOrder,
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    #[error(
        "A conflicting conditional operation is currently in progress against this resource. Please try again."
    )]
    ConditionalRequestConflict,
    #[error("Not Modified")]
    NotModified,
    #[error("The requested range is not satisfiable")]
    InvalidRange,
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber,
    #[error("There is not enough space to store the object.")]
    NoSpace,
    /// The version a read was starting on was replaced or deleted before
    /// its data was secured; the read starts over.
    #[error("The object changed while it was being read. Please try again.")]
    Superseded,
    #[error("The request body stream failed")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<MetaError> for EngineError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::NoSpace(_) => Self::NoSpace,
            MetaError::Corrupt(m) => Self::Corrupt(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<BlobError> for EngineError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NoSpace => Self::NoSpace,
            BlobError::Corrupt { id, detail } => Self::Corrupt(format!("blob {id}: {detail}")),
            BlobError::NotFound(id) => Self::Corrupt(format!("blob {id} is missing")),
            BlobError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => Self::NoSpace,
            BlobError::Io(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<NameError> for EngineError {
    fn from(e: NameError) -> Self {
        match e {
            NameError::InvalidBucketName(m) => Self::InvalidBucketName(m.to_owned()),
            NameError::KeyTooLong => Self::KeyTooLong,
            NameError::EmptyKey | NameError::NulInKey => Self::InvalidArgument(e.to_string()),
        }
    }
}
