//! 利用者番号: the card number given on approval. Ten digits, the last a Luhn check digit, so a
//! mistyped number at the counter is caught before any lookup.

/// A card number from nine digits (`body` modulo 10⁹), with its check digit.
pub fn card_number(body: u64) -> String {
    let digits = format!("{:09}", body % 1_000_000_000);
    format!("{digits}{}", luhn_check_digit(&digits))
}

/// Whether `number` is ten digits with a correct check digit.
pub fn is_valid_card_number(number: &str) -> bool {
    number.len() == 10
        && number.chars().all(|c| c.is_ascii_digit())
        && luhn_check_digit(&number[..9]) == number.as_bytes()[9] - b'0'
}

fn luhn_check_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_carry_a_luhn_check_digit() {
        let number = card_number(12_345_678);
        assert_eq!(number, "0123456782");
        assert!(is_valid_card_number(&number));
    }

    #[test]
    fn a_single_mistyped_digit_or_a_swap_is_caught() {
        let number = card_number(987_654_321);
        assert!(is_valid_card_number(&number));
        let mut typo = number.clone().into_bytes();
        typo[3] = if typo[3] == b'9' { b'0' } else { typo[3] + 1 };
        assert!(!is_valid_card_number(std::str::from_utf8(&typo).unwrap()));
        let mut swapped = number.into_bytes();
        swapped.swap(1, 2);
        assert!(!is_valid_card_number(
            std::str::from_utf8(&swapped).unwrap()
        ));
        assert!(!is_valid_card_number("12345"));
    }
}
