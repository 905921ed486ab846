//! A local SMTP server for tests: enough of RFC 5321 for one client (greeting, EHLO/HELO, MAIL
//! FROM, RCPT TO, DATA, RSET, NOOP, QUIT) to hand it mail, which it keeps for assertions. It can
//! also misbehave: refuse every recipient with a 5xx, or hang up as soon as a client connects.
//!
//! A message is recorded before the `250` that ends DATA, so once the client's send has
//! returned, the message is in `received()`: tests need no waiting.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the server treats the next connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Take every mail.
    Accept,
    /// Answer every `RCPT TO` with `550` (a permanent refusal).
    RefuseRecipients,
    /// Close the connection before the greeting.
    HangUp,
}

/// One message handed over.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as sent (headers, blank line, body), dot-stuffing undone, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// The value of header `name` (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut headers: Vec<(&str, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                // A folded line continues the header before it.
                if let Some((_, value)) = headers.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim_start());
                }
            } else if let Some((key, value)) = line.split_once(':') {
                headers.push((key.trim(), value.trim().to_owned()));
            }
        }
        headers
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The subject, with RFC 2047 `=?utf-8?b?…?=` words decoded.
    pub fn subject(&self) -> String {
        decode_words(&self.header("Subject").unwrap_or_default())
    }

    /// The body as text, decoded from base64 when the message says it is.
    pub fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let base64 = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"));
        if base64 {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("a base64 body");
            String::from_utf8(bytes).expect("a UTF-8 body")
        } else {
            body.to_owned()
        }
    }
}

/// Decode the `=?utf-8?B?…?=` words of a header value; other words stay as they are. Adjacent
/// encoded words are joined as bytes first, since a writer may split a text anywhere.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    for word in value.split_whitespace() {
        let decoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut parts = w.splitn(3, '?');
                let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
                (charset.eq_ignore_ascii_case("utf-8") && encoding.eq_ignore_ascii_case("b"))
                    .then_some(text)
            })
            .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok());
        match decoded {
            // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
            Some(bytes) => pending.extend(bytes),
            None => {
                out.push_str(&String::from_utf8_lossy(&std::mem::take(&mut pending)));
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out.push_str(&String::from_utf8_lossy(&pending));
    out
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    received: Mutex<Vec<ReceivedMail>>,
    connections: AtomicUsize,
}

/// A running stub, listening on loopback until the test ends.
#[derive(Clone)]
pub struct SmtpStub {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl SmtpStub {
    /// Bind a loopback port and serve in the background.
    pub async fn start(behaviour: Behaviour) -> SmtpStub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP stub");
        let address = listener.local_addr().expect("the stub's address");
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            received: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let serving = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                serving.connections.fetch_add(1, Ordering::SeqCst);
                let behaviour = *serving.behaviour.lock().unwrap();
                let shared = Arc::clone(&serving);
                tokio::spawn(async move {
                    // A client that goes away mid-session is the client's business.
                    let _ = session(stream, behaviour, &shared).await;
                });
            }
        });
        SmtpStub { address, shared }
    }

    /// `smtp://127.0.0.1:PORT`, for the `smtp_url` setting.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Change how later connections are treated.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Every message taken so far, in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.received.lock().unwrap().clone()
    }

    /// How many connections clients have opened.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

/// The address inside `<…>` of a `MAIL FROM:`/`RCPT TO:` argument (parameters after it ignored).
fn angle_address(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..]
        .find('>')
        .map_or(argument.len(), |i| start + i);
    argument[start..end].trim().to_owned()
}

async fn session(stream: TcpStream, behaviour: Behaviour, shared: &Shared) -> std::io::Result<()> {
    if behaviour == Behaviour::HangUp {
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 stub.test ESMTP ready\r\n").await?;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 stub.test\r\n"
        } else if let Some(argument) = upper
            .starts_with("MAIL FROM:")
            .then(|| &command["MAIL FROM:".len()..])
        {
            mail_from = Some(angle_address(argument));
            rcpt_to.clear();
            b"250 2.1.0 ok\r\n"
        } else if let Some(argument) = upper
            .starts_with("RCPT TO:")
            .then(|| &command["RCPT TO:".len()..])
        {
            if behaviour == Behaviour::RefuseRecipients {
                b"550 5.1.1 mailbox unavailable\r\n"
            } else if mail_from.is_none() {
                b"503 5.5.1 MAIL first\r\n"
            } else {
                rcpt_to.push(angle_address(argument));
                b"250 2.1.5 ok\r\n"
            }
        } else if upper == "DATA" {
            if rcpt_to.is_empty() {
                b"554 5.5.1 no valid recipients\r\n"
            } else {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\r', '\n']);
                    if text == "." {
                        break;
                    }
                    data.push_str(text.strip_prefix('.').unwrap_or(text));
                    data.push_str("\r\n");
                }
                shared.received.lock().unwrap().push(ReceivedMail {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                });
                b"250 2.0.0 queued\r\n"
            }
        } else if upper == "RSET" {
            mail_from = None;
            rcpt_to.clear();
            b"250 2.0.0 ok\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 ok\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
