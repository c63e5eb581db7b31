//! Wildcard matching as IAM does it: `*` matches any run of characters
//! (including none, and spanning `/` and `:`), `?` matches exactly one.
//!
//! A [`Pattern`] keeps literal characters apart from wildcards, so a policy
//! variable such as `${*}` (a literal asterisk) or a substituted user name
//! can never turn into a wildcard.

/// Whether letters must agree in case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Resources, principals and `StringLike` values.
    Sensitive,
    /// Actions (`s3:getobject` matches `s3:GetObject`).
    Insensitive,
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Matches exactly this character.
    Char(char),
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `?`: any single character.
    AnyOne,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles `text`, reading `*` and `?` as wildcards.
    pub fn new(text: &str) -> Self {
        let mut p = Self::default();
        p.push_wild(text);
        p
    }

    /// Appends `text`, reading `*` and `?` as wildcards.
    pub fn push_wild(&mut self, text: &str) {
        self.tokens.extend(text.chars().map(|c| match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            c => Token::Char(c),
        }));
    }

    /// Appends `text` with every character literal.
    pub fn push_literal(&mut self, text: &str) {
        self.tokens.extend(text.chars().map(Token::Char));
    }

    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Splits at literal `sep` characters into at most `n` pieces, the last
    /// keeping any further separators (as an ARN's resource part keeps its
    /// colons).
    pub fn splitn(&self, n: usize, sep: char) -> Vec<Pattern> {
        let mut out = vec![Pattern::default()];
        for tok in &self.tokens {
            if *tok == Token::Char(sep) && out.len() < n {
                out.push(Pattern::default());
            } else if let Some(last) = out.last_mut() {
                last.tokens.push(tok.clone());
            }
        }
        out
    }

    /// Whether the pattern matches the whole of `text`.
    ///
    /// Linear scan with backtracking to the most recent `*` only: a later
    /// `*` can absorb anything an earlier one could, so earlier stars never
    /// need revisiting. Worst case O(pattern × text).
    pub fn matches(&self, text: &str, case: Case) -> bool {
        let text: Vec<char> = text.chars().collect();
        let toks = &self.tokens;
        let (mut p, mut t) = (0usize, 0usize);
        // (pattern index after the star, text index the star resumes from)
        let mut resume: Option<(usize, usize)> = None;
        while t < text.len() {
            match toks.get(p) {
                Some(Token::AnyRun) => {
                    p += 1;
                    resume = Some((p, t));
                    continue;
                }
                Some(Token::AnyOne) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                Some(Token::Char(c)) if chars_equal(*c, text[t], case) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match resume {
                Some((rp, rt)) => {
                    p = rp;
                    t = rt + 1;
                    resume = Some((rp, rt + 1));
                }
                None => return false,
            }
        }
        toks[p.min(toks.len())..]
            .iter()
            .all(|tok| *tok == Token::AnyRun)
    }
}

fn chars_equal(a: char, b: char, case: Case) -> bool {
    a == b || (case == Case::Insensitive && a.to_lowercase().eq(b.to_lowercase()))
}

/// Whether `pattern` (with `*` and `?` wildcards) matches all of `text`.
pub fn wildcard_match(pattern: &str, text: &str, case: Case) -> bool {
    Pattern::new(pattern).matches(text, case)
}
