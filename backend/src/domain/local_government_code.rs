//! 全国地方公共団体コード (JIS X 0402 local government codes): the five-digit code and its
//! sixth, check digit. Open data (自治体標準オープンデータセット) writes the six-digit form; the
//! city's row holds it, and the open-data export checks it here rather than trusting the row.
//!
//! The check digit (総務省の検査数字): multiply the five digits by 6, 5, 4, 3, 2, add the products,
//! take the remainder modulo 11, subtract it from 11 and keep the last digit of that (so a
//! remainder of 0 gives 1, and a remainder of 1 gives 0).

/// Why a code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a local government code is 5 or 6 ASCII digits, not `{0}`")]
    Malformed(String),
    #[error("the check digit of `{code}` should be {expected}")]
    WrongCheckDigit { code: String, expected: char },
}

/// The check digit of a five-digit code, or `None` if `code` is not five ASCII digits.
pub fn check_digit(code: &str) -> Option<char> {
    if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = code
        .bytes()
        .zip([6, 5, 4, 3, 2])
        .map(|(b, weight)| u32::from(b - b'0') * weight)
        .sum();
    let digit = (11 - sum % 11) % 10;
    char::from_digit(digit, 10)
}

/// The six-digit code for a five-digit one (`14100` → `141003`), or a six-digit one checked.
pub fn with_check_digit(code: &str) -> Result<String, CodeError> {
    match code.len() {
        5 => check_digit(code)
            .map(|d| format!("{code}{d}"))
            .ok_or_else(|| CodeError::Malformed(code.to_owned())),
        6 => {
            let expected =
                check_digit(&code[..5]).ok_or_else(|| CodeError::Malformed(code.to_owned()))?;
            if code.ends_with(expected) {
                Ok(code.to_owned())
            } else {
                Err(CodeError::WrongCheckDigit {
                    code: code.to_owned(),
                    expected,
                })
            }
        }
        _ => Err(CodeError::Malformed(code.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_get_their_published_check_digits() {
        // 横浜市, 千代田区, 札幌市, 北海道, 新宿区 (remainder 0 → 1), 神奈川区 (remainder 1 → 0).
        for (five, six) in [
            ("14100", "141003"),
            ("13101", "131016"),
            ("01100", "011002"),
            ("01000", "010006"),
            ("13104", "131041"),
            ("14102", "141020"),
        ] {
            assert_eq!(with_check_digit(five).as_deref(), Ok(six), "{five}");
            assert_eq!(with_check_digit(six).as_deref(), Ok(six), "{six}");
        }
    }

    #[test]
    fn a_wrong_check_digit_or_a_malformed_code_is_refused() {
        assert_eq!(
            with_check_digit("141004"),
            Err(CodeError::WrongCheckDigit {
                code: "141004".into(),
                expected: '3'
            })
        );
        for bad in ["", "1410", "1410a", "1234567", "１４１００"] {
            assert!(
                matches!(with_check_digit(bad), Err(CodeError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
