//! Leaderboard rules in plain Rust: which board (`period`), public-name validation, the
//! masked pseudonym shown for everyone else, competition ranking of a page ("1, 2, 2, 4"),
//! and the sealed pagination cursor.
//!
//! **Privacy.** The index behind the board is keyed by user id, so a plain DynamoDB
//! `LastEvaluatedKey` cursor would hand out the user id of the last referrer of every page
//! (paging with `limit=1` would de-anonymise the whole board). The cursor is therefore
//! encrypted and authenticated (ChaCha20-Poly1305, random 96-bit nonce) under a key derived
//! from `LEADERBOARD_SECRET`; pseudonyms are an HMAC of the user id under another derived key,
//! so they cannot be confirmed by hashing a guessed user id. Rotating the secret reshuffles
//! the pseudonyms and invalidates open cursors (callers start again from page 1).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::UserId;

/// Scope of the all-time board (`LB#all`).
pub const ALL: &str = "all";
/// Longest public name, in characters (after trimming).
pub const MAX_NAME_CHARS: usize = 32;
/// Shortest accepted `LEADERBOARD_SECRET`, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// `period` of `GET /referrals/leaderboard`: the current UTC calendar month (default) or all time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month,
    All,
}

impl Period {
    /// `None` (parameter absent) is the current month.
    pub fn parse(raw: Option<&str>) -> Result<Self, LeaderboardError> {
        match raw {
            None | Some("month") => Ok(Period::Month),
            Some("all") => Ok(Period::All),
            Some(_) => Err(LeaderboardError::Period),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::All => "all",
        }
    }
}

/// One leaderboard: all time, or one UTC month (`yyyy-mm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Board {
    All,
    Month(String),
}

impl Board {
    /// The board `period` means at `now`.
    pub fn current(period: Period, now: time::OffsetDateTime) -> Self {
        match period {
            Period::All => Board::All,
            Period::Month => {
                let now = now.to_offset(time::UtcOffset::UTC);
                Board::Month(format!("{:04}-{:02}", now.year(), u8::from(now.month())))
            }
        }
    }

    /// `all` or `yyyy-mm`: the suffix of the index partition `LB#<scope>`.
    pub fn scope(&self) -> &str {
        match self {
            Board::All => ALL,
            Board::Month(month) => month,
        }
    }

    pub fn month(&self) -> Option<&str> {
        match self {
            Board::All => None,
            Board::Month(month) => Some(month),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaderboardError {
    #[error("period must be month or all")]
    Period,
    #[error("invalid cursor: pass back the next_cursor of the previous page unchanged")]
    Cursor,
    #[error("public_name must be 1 to {MAX_NAME_CHARS} characters after trimming")]
    NameLength,
    #[error("public_name may contain only letters, digits, spaces and . - _ ' (found {0:?})")]
    NameCharacter(char),
}

/// A referrer's opt-in display name: trimmed, 1–32 characters, letters (any script), digits,
/// spaces and `. - _ '` only — no control characters, no markup, and never `#`, so nobody
/// can pose as a masked `Referrer #…` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicName(String);

impl PublicName {
    pub fn parse(raw: &str) -> Result<Self, LeaderboardError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(LeaderboardError::NameLength);
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || " .-_'".contains(*c))) {
            return Err(LeaderboardError::NameCharacter(bad));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Ranks of a page in standard competition ranking ("1, 2, 2, 4"), given how many entries
/// came before it and the score and rank of the last one (from the cursor). `scores` are in
/// board order (descending).
pub fn rank_page(before: &RankState, scores: &[Decimal]) -> (Vec<u64>, RankState) {
    let mut state = before.clone();
    let ranks = scores
        .iter()
        .map(|score| {
            state.shown += 1;
            if state.last_score != Some(*score) {
                state.last_rank = state.shown;
                state.last_score = Some(*score);
            }
            state.last_rank
        })
        .collect();
    (ranks, state)
}

/// Where a page ends: entries shown so far and the score/rank of the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RankState {
    pub shown: u64,
    pub last_score: Option<Decimal>,
    pub last_rank: u64,
}

/// What the opaque cursor carries: the board, where each of its shards stands in the index
/// (users and scores, never shown to the caller) and the ranking state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardCursor {
    pub scope: String,
    pub position: crate::store::BoardPosition,
    pub rank: RankState,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    b: String,
    /// Per shard: `[shard, user, score]`, or `[shard]` when the shard is done.
    p: Vec<Vec<String>>,
    /// Score of the last entry shown (ties continue across pages).
    s: String,
    n: u64,
    r: u64,
}

const CURSOR_AAD: &[u8] = b"referrals-leaderboard-cursor-v2";
/// A cursor names at most one position per shard of the board.
const MAX_CURSOR_LEN: usize = 4096;

/// Keys derived from `LEADERBOARD_SECRET`: one seals cursors, one makes pseudonyms.
#[derive(Clone)]
pub struct LeaderboardKeys {
    cursor: [u8; 32],
    pseudonym: [u8; 32],
}

impl std::fmt::Debug for LeaderboardKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeaderboardKeys(<redacted>)")
    }
}

fn derive(secret: &[u8], label: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

impl LeaderboardKeys {
    /// `None` if the secret is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &str) -> Option<Self> {
        (secret.len() >= MIN_SECRET_LEN).then(|| Self {
            cursor: derive(secret.as_bytes(), "leaderboard-cursor"),
            pseudonym: derive(secret.as_bytes(), "leaderboard-pseudonym"),
        })
    }

    /// `Referrer #3F9A2C`: stable per user (while the secret stays), reveals neither the
    /// user id nor the referral code.
    pub fn pseudonym(&self, user: &UserId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.pseudonym).expect("HMAC takes any key length");
        mac.update(user.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("Referrer #{}", hex::encode_upper(&digest[..3]))
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.cursor).expect("32-byte key"))
    }

    pub fn seal(&self, cursor: &LeaderboardCursor) -> String {
        let p = cursor
            .position
            .shards
            .iter()
            .map(|(shard, mark)| match mark {
                crate::store::ShardMark::After { user, score } => {
                    vec![shard.to_string(), user.to_string(), score.to_string()]
                }
                crate::store::ShardMark::Done => vec![shard.to_string()],
            })
            .collect();
        let plain = Sealed {
            b: cursor.scope.clone(),
            p,
            s: cursor.rank.last_score.unwrap_or_default().to_string(),
            n: cursor.rank.shown,
            r: cursor.rank.last_rank,
        };
        let mut buf = serde_json::to_vec(&plain).expect("cursor serialises");
        let nonce: [u8; NONCE_LEN] = rand::random();
        self.aead()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(CURSOR_AAD), &mut buf)
            .expect("sealing a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens a cursor of board `scope`. Anything not sealed by us for this board (edited,
    /// truncated, another board's, another secret's) is [`LeaderboardError::Cursor`].
    pub fn open(&self, raw: &str, scope: &str) -> Result<LeaderboardCursor, LeaderboardError> {
        if raw.len() > MAX_CURSOR_LEN {
            return Err(LeaderboardError::Cursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| LeaderboardError::Cursor)?;
        if bytes.len() <= NONCE_LEN {
            return Err(LeaderboardError::Cursor);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| LeaderboardError::Cursor)?;
        let mut buf = sealed.to_vec();
        let plain =
            self.aead().open_in_place(nonce, Aad::from(CURSOR_AAD), &mut buf).map_err(|_| LeaderboardError::Cursor)?;
        let plain: Sealed = serde_json::from_slice(plain).map_err(|_| LeaderboardError::Cursor)?;
        let score: Decimal = plain.s.parse().map_err(|_| LeaderboardError::Cursor)?;
        if plain.b != scope || score <= Decimal::ZERO || plain.n == 0 || plain.r == 0 || plain.r > plain.n {
            return Err(LeaderboardError::Cursor);
        }
        let mut position = crate::store::BoardPosition::default();
        for mark in plain.p {
            let shard: u32 = mark.first().and_then(|s| s.parse().ok()).ok_or(LeaderboardError::Cursor)?;
            let mark = match mark.as_slice() {
                [_] => crate::store::ShardMark::Done,
                [_, user, score] => crate::store::ShardMark::After {
                    user: UserId::parse(user).map_err(|_| LeaderboardError::Cursor)?,
                    score: score
                        .parse()
                        .ok()
                        .filter(|s: &Decimal| *s > Decimal::ZERO)
                        .ok_or(LeaderboardError::Cursor)?,
                },
                _ => return Err(LeaderboardError::Cursor),
            };
            position.shards.insert(shard, mark);
        }
        Ok(LeaderboardCursor {
            scope: plain.b,
            position,
            rank: RankState { shown: plain.n, last_score: Some(score), last_rank: plain.r },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn keys() -> LeaderboardKeys {
        LeaderboardKeys::new("leaderboard-test-secret-0123456789abcdef").unwrap()
    }

    #[test]
    fn periods_and_boards() {
        assert_eq!(Period::parse(None), Ok(Period::Month));
        assert_eq!(Period::parse(Some("all")), Ok(Period::All));
        assert_eq!(Period::parse(Some("ALL")), Err(LeaderboardError::Period));
        assert_eq!(Period::parse(Some("")), Err(LeaderboardError::Period));
        let t = time::macros::datetime!(2026-11-30 23:59:59 -02:00); // 2026-12-01 01:59 UTC
        assert_eq!(Board::current(Period::Month, t), Board::Month("2026-12".into()));
        assert_eq!(Board::current(Period::Month, t).scope(), "2026-12");
        assert_eq!(Board::current(Period::All, t).scope(), "all");
        assert_eq!(Board::All.month(), None);
    }

    #[test]
    fn public_names_are_validated() {
        assert_eq!(PublicName::parse("  Jane D. ").unwrap().as_str(), "Jane D.");
        assert_eq!(PublicName::parse("Zoë O'Neil-Smith_2").unwrap().as_str(), "Zoë O'Neil-Smith_2");
        assert_eq!(PublicName::parse(&"x".repeat(32)).unwrap().as_str().len(), 32);
        assert_eq!(PublicName::parse(&"é".repeat(32)).unwrap().as_str().chars().count(), 32);
        assert_eq!(PublicName::parse(&"x".repeat(33)), Err(LeaderboardError::NameLength));
        assert_eq!(PublicName::parse("   "), Err(LeaderboardError::NameLength));
        for (bad, c) in
            [("a<b", '<'), ("Referrer #1", '#'), ("a\u{0}b", '\u{0}'), ("a\tb", '\t'), ("a\u{202e}b", '\u{202e}')]
        {
            assert_eq!(PublicName::parse(bad), Err(LeaderboardError::NameCharacter(c)), "{bad:?}");
        }
    }

    #[test]
    fn ranking_shares_ranks_on_ties_across_pages() {
        let (ranks, state) = rank_page(&RankState::default(), &[d("9"), d("5"), d("5")]);
        assert_eq!(ranks, vec![1, 2, 2]);
        let (ranks, state) = rank_page(&state, &[d("5.00"), d("3"), d("3"), d("1")]);
        assert_eq!(ranks, vec![2, 5, 5, 7], "a tie continues across the page break; then 5, not 3");
        assert_eq!(state, RankState { shown: 7, last_score: Some(d("1")), last_rank: 7 });
        assert_eq!(rank_page(&state, &[]).0, Vec::<u64>::new());
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_hide_the_id() {
        let alice = UserId::parse("alice").unwrap();
        let name = keys().pseudonym(&alice);
        assert_eq!(name, keys().pseudonym(&alice));
        assert!(name.starts_with("Referrer #") && name.len() == "Referrer #".len() + 6, "{name}");
        assert!(!name.to_lowercase().contains("alice"));
        assert_ne!(name, keys().pseudonym(&UserId::parse("bob").unwrap()));
        let other = LeaderboardKeys::new("another-secret-0123456789abcdefghijkl").unwrap();
        assert_ne!(name, other.pseudonym(&alice), "keyed: not a plain hash of the id");
        assert!(LeaderboardKeys::new("short").is_none());
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let mut position = crate::store::BoardPosition::default();
        position
            .shards
            .insert(3, crate::store::ShardMark::After { user: UserId::parse("alice").unwrap(), score: d("12.5") });
        position.shards.insert(7, crate::store::ShardMark::Done);
        let cursor = LeaderboardCursor {
            scope: "2026-11".into(),
            position,
            rank: RankState { shown: 10, last_score: Some(d("12.5")), last_rank: 9 },
        };
        let sealed = keys().seal(&cursor);
        assert!(!String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(&sealed).unwrap()).contains("alice"));
        assert_ne!(sealed, keys().seal(&cursor), "fresh nonce per cursor");
        assert_eq!(keys().open(&sealed, "2026-11"), Ok(cursor));
        assert_eq!(keys().open(&sealed, "all"), Err(LeaderboardError::Cursor), "bound to its board");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(keys().open(&URL_SAFE_NO_PAD.encode(&bytes), "2026-11"), Err(LeaderboardError::Cursor));
        let other = LeaderboardKeys::new("another-secret-0123456789abcdefghijkl").unwrap();
        assert_eq!(other.open(&sealed, "2026-11"), Err(LeaderboardError::Cursor));
        for junk in ["", "!!!", "AAAA", &"A".repeat(MAX_CURSOR_LEN + 1)] {
            assert_eq!(keys().open(junk, "2026-11"), Err(LeaderboardError::Cursor), "{junk:?}");
        }
    }
}
