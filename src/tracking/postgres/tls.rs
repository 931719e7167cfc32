//! TLS for the PostgreSQL store through rustls (no OpenSSL): the `sslmode` (and
//! `sslrootcert`) options of a `postgresql://` URI, as libpq reads them.
//!
//! - `disable`: no TLS.
//! - `prefer` (the default): TLS when the server offers it, else a plain connection; the
//!   server's certificate is not checked (as libpq without a root certificate).
//! - `require`: TLS or no connection; the certificate is not checked.
//! - `verify-full`: TLS, with the server's certificate checked against trusted roots (the
//!   file `sslrootcert` names, else Mozilla's roots) and the host name.

use super::super::store::StoreError;
use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The `sslmode` values accepted, for messages.
const ACCEPTED_MODES: &str = "disable, prefer, require or verify-full";

/// What a URI asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TlsOptions {
    /// Whether TLS is used (`Require` for `verify-full` too).
    pub mode: SslMode,
    /// Whether the server's certificate and host name are checked (`verify-full`).
    pub verify: bool,
    /// The trusted roots' file (`sslrootcert`), for `verify-full`.
    pub root_cert: Option<String>,
}

fn bad_uri(shown_uri: &str, reason: String) -> StoreError {
    StoreError::UnsupportedUri {
        uri: shown_uri.to_string(),
        reason,
    }
}

/// Splits the TLS options off `uri` (which keeps its other options, for the driver to
/// parse); `shown_uri` is the URI for messages.
pub(super) fn split_options(
    uri: &str,
    shown_uri: &str,
) -> Result<(String, TlsOptions), StoreError> {
    let mut options = TlsOptions {
        mode: SslMode::Prefer,
        verify: false,
        root_cert: None,
    };
    let Some((base, query)) = uri.split_once('?') else {
        return Ok((uri.to_string(), options));
    };
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                (options.mode, options.verify) = match value {
                    "disable" => (SslMode::Disable, false),
                    "prefer" => (SslMode::Prefer, false),
                    "require" => (SslMode::Require, false),
                    "verify-full" => (SslMode::Require, true),
                    other => {
                        return Err(bad_uri(
                            shown_uri,
                            format!("sslmode={other} is not accepted; use {ACCEPTED_MODES}"),
                        ));
                    }
                }
            }
            "sslrootcert" => options.root_cert = Some(value.to_string()),
            _ => kept.push(pair),
        }
    }
    if options.root_cert.is_some() && !options.verify {
        return Err(bad_uri(
            shown_uri,
            "sslrootcert is only used with sslmode=verify-full; add it, or leave \
             sslrootcert out"
                .into(),
        ));
    }
    let uri = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((uri, options))
}

/// The TLS connector for `options`.
pub(super) fn connector(
    options: &TlsOptions,
    shown_uri: &str,
) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Unavailable(format!("setting up TLS: {e}")))?;
    let config = if options.verify {
        let mut roots = RootCertStore::empty();
        match &options.root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        bad_uri(
                            shown_uri,
                            format!("cannot read the root certificates in sslrootcert={path}: {e}"),
                        )
                    })?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(bad_uri(
                        shown_uri,
                        format!("sslrootcert={path} holds no usable PEM certificate"),
                    ));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    };
    Ok(MakeRustlsConnect::new(config))
}

/// Takes any server certificate (`prefer` and `require` encrypt without authenticating
/// the server, as libpq does without a root certificate), while still checking that the
/// server holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_split_off_and_checked() {
        let (uri, o) = split_options("postgresql://u@h/db", "shown").unwrap();
        assert_eq!(
            (uri.as_str(), o.mode, o.verify),
            ("postgresql://u@h/db", SslMode::Prefer, false)
        );
        let (uri, o) = split_options(
            "postgresql://u@h/db?application_name=x&sslmode=verify-full&sslrootcert=/ca.pem",
            "shown",
        )
        .unwrap();
        assert_eq!(uri, "postgresql://u@h/db?application_name=x");
        assert_eq!(o.mode, SslMode::Require);
        assert!(o.verify);
        assert_eq!(o.root_cert.as_deref(), Some("/ca.pem"));
        let (_, o) = split_options("postgresql://u@h/db?sslmode=disable", "shown").unwrap();
        assert_eq!(o.mode, SslMode::Disable);
        let e = split_options("postgresql://u@h/db?sslmode=always", "shown").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("sslmode=always") && text.contains(ACCEPTED_MODES),
            "{text}"
        );
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
        let e = split_options("postgresql://u@h/db?sslrootcert=/ca.pem", "shown").unwrap_err();
        assert!(e.to_string().contains("verify-full"), "{e}");
    }
}
