//! A small writer for the IAM Query API's XML responses.

use quick_xml::escape::escape;

pub(crate) const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub(crate) const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

#[derive(Default)]
pub(crate) struct Xml(String);

impl Xml {
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn leaf(&mut self, tag: &str, value: &str) -> &mut Self {
        self.open(tag);
        self.0.push_str(&escape(value));
        self.close(tag)
    }

    pub fn leaf_opt(&mut self, tag: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.leaf(tag, v);
        }
        self
    }

    /// Appends already-escaped XML.
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `<ActionResponse xmlns=...><ActionResult>result</ActionResult><ResponseMetadata>...`
pub(crate) fn response(ns: &str, action: &str, result: &str, request_id: &str) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    x.push_str(&format!("<{action}Response xmlns=\"{ns}\">"));
    // Some actions answer an empty result element (UpdateRole), which SDKs
    // look for; for actions with no result it is ignored.
    x.push_str(&format!("<{action}Result>{result}</{action}Result>"));
    x.push_str(&format!(
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ));
    x
}

pub(crate) fn error(ns: &str, code: &str, message: &str, request_id: &str) -> String {
    let mut x = Xml::default();
    x.open("Error")
        .leaf(
            "Type",
            if code == "InternalFailure" {
                "Receiver"
            } else {
                "Sender"
            },
        )
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .leaf("RequestId", request_id);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse xmlns=\"{ns}\">{}</ErrorResponse>",
        x.into_string()
    )
}

/// IAM's timestamps: ISO 8601 in UTC with whole seconds.
pub(crate) fn date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&fmt).unwrap_or_default()
}
