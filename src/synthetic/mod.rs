//! The synthetic England behind `haresign demo`.
//!
//! A [`World`] is a pure function of `(seed, scale)`. Randomness comes from a local
//! xoshiro256** generator rather than the `rand` crate so that the world, and every file
//! written from it, stays byte-identical across dependency upgrades.
//!
//! Entities refer to each other by index into the `World` vectors. Practices and PCNs are
//! sorted by code, so writers can emit them in the order the publishers do.

use std::collections::HashSet;
use std::f64::consts::TAU;

use chrono::{Datelike, Days, Months, NaiveDate};

const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

/// The day the synthetic ODS snapshot describes. List sizes are anchored here and the demo's
/// latest registration extract is this month.
pub const AS_OF: NaiveDate = ymd(2025, 10, 1);

/// Primary care networks started on 1 July 2019; no membership spell begins earlier.
pub const PCN_START: NaiveDate = ymd(2019, 7, 1);

/// ODS gives practices that predate its records this open date.
const LEGACY_OPEN: NaiveDate = ymd(1974, 4, 1);

/// Largest `scale` the code spaces (practice letter/area prefixes, `Y` codes) can hold.
pub const MAX_SCALE: f64 = 10.0;

/// Number of five-year age bands in the registration files.
pub const BAND_COUNT: usize = 20;

/// `AGE_GROUP_5` labels, youngest first.
pub const AGE_BANDS: [&str; BAND_COUNT] = [
    "0_4", "5_9", "10_14", "15_19", "20_24", "25_29", "30_34", "35_39", "40_44", "45_49", "50_54",
    "55_59", "60_64", "65_69", "70_74", "75_79", "80_84", "85_89", "90_94", "95+",
];

/// Index into [`ListModel::weights`].
pub const MALE: usize = 0;
/// Index into [`ListModel::weights`].
pub const FEMALE: usize = 1;

/// xoshiro256** seeded through splitmix64.
#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut state = [0u64; 4];
        for word in &mut state {
            *word = splitmix64(&mut sm);
        }
        Rng { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n`; `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0)");
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "Rng::between with an empty range");
        let span = (hi - lo) as u64 + 1;
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }

    /// Log-normal multiplier with median 1.
    pub fn spread(&mut self, sigma: f64) -> f64 {
        (sigma * self.normal()).exp()
    }

    /// Index drawn with probability proportional to `weights` (which must not all be zero).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if target < *w {
                return i;
            }
            target -= w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stateless hash of two words, for values that must depend only on their inputs (such as a
/// practice's list in a given month) and not on how many draws came before.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut state = a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    splitmix64(&mut state) ^ splitmix64(&mut state)
}

/// Maps a hash to `[-1, 1)`.
fn signed_unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// NHS England commissioning region.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub code: String,
    pub ons_code: String,
    pub name: String,
}

/// Integrated care board.
#[derive(Debug, Clone, PartialEq)]
pub struct Icb {
    pub code: String,
    pub ons_code: String,
    /// e.g. "NHS Thornbury and Elmfield Integrated Care Board".
    pub name: String,
    /// e.g. "Thornbury and Elmfield".
    pub short_name: String,
    pub region: usize,
}

/// Sub-ICB location (the former CCG).
#[derive(Debug, Clone, PartialEq)]
pub struct SubIcb {
    pub code: String,
    pub ons_code: String,
    /// e.g. "NHS Thornbury and Elmfield ICB - 16C".
    pub name: String,
    pub icb: usize,
    pub region: usize,
    pub open_date: NaiveDate,
}

/// Primary care network.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcn {
    pub code: String,
    pub name: String,
    pub sub_icb: usize,
    pub open_date: NaiveDate,
    pub close_date: Option<NaiveDate>,
    /// The lead practice's address (1–4 lines).
    pub address: Vec<String>,
    pub postcode: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PracticeStatus {
    Active,
    Closed,
    Dormant,
    Proposed,
}

impl PracticeStatus {
    /// The epraccur status code.
    pub fn code(self) -> &'static str {
        match self {
            PracticeStatus::Active => "A",
            PracticeStatus::Closed => "C",
            PracticeStatus::Dormant => "D",
            PracticeStatus::Proposed => "P",
        }
    }
}

/// How a practice's registered list behaves over time.
#[derive(Debug, Clone, PartialEq)]
pub struct ListModel {
    /// Registered patients at [`AS_OF`] for an established practice.
    pub size: f64,
    /// Monthly growth on the log scale (negative for shrinking lists).
    pub growth: f64,
    pub female_share: f64,
    /// Share of each sex's patients in each age band at [`AS_OF`], indexed `[MALE|FEMALE][band]`;
    /// each row sums to 1.
    pub weights: [[f64; BAND_COUNT]; 2],
    /// Seed for this practice's month-to-month noise.
    pub key: u64,
}

/// GP practice.
#[derive(Debug, Clone, PartialEq)]
pub struct Practice {
    pub code: String,
    pub name: String,
    /// 2–4 lines; the last is the town.
    pub address: Vec<String>,
    pub postcode: String,
    pub phone: String,
    pub open_date: NaiveDate,
    pub close_date: Option<NaiveDate>,
    pub status: PracticeStatus,
    pub sub_icb: usize,
    pub icb: usize,
    pub region: usize,
    /// Clinical system supplier as named in the registration map (`EMIS`, `TPP`).
    pub supplier: String,
    pub list: ListModel,
}

impl Practice {
    /// Whether the practice is operating and holds a registered list on `day`. Close dates
    /// are the last operating day.
    pub fn is_open_on(&self, day: NaiveDate) -> bool {
        matches!(self.status, PracticeStatus::Active | PracticeStatus::Closed)
            && self.open_date <= day
            && self.close_date.is_none_or(|close| day <= close)
    }

    pub fn town(&self) -> &str {
        self.address.last().map_or("", String::as_str)
    }
}

/// One spell of a practice in a PCN; `end` is the last day (inclusive), `None` while current.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub practice: usize,
    pub pcn: usize,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

impl Membership {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|end| day <= end)
    }
}

/// A practice's registered patients in one monthly extract.
#[derive(Debug, Clone, PartialEq)]
pub struct PracticeRegistrations {
    pub practice: usize,
    pub male: [u32; BAND_COUNT],
    pub female: [u32; BAND_COUNT],
}

impl PracticeRegistrations {
    pub fn total(&self) -> u64 {
        self.male
            .iter()
            .chain(&self.female)
            .map(|n| u64::from(*n))
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub seed: u64,
    pub scale: f64,
    pub regions: Vec<Region>,
    pub icbs: Vec<Icb>,
    pub sub_icbs: Vec<SubIcb>,
    /// Sorted by code.
    pub pcns: Vec<Pcn>,
    /// Sorted by code.
    pub practices: Vec<Practice>,
    /// Sorted by practice, then start date; spells of one practice never overlap.
    pub memberships: Vec<Membership>,
}

impl World {
    /// Builds the world. `scale` 1.0 is national size (~6,300 practices); smaller scales shrink
    /// every level but keep the 7 regions and at least one ICB and sub-ICB per region.
    ///
    /// # Panics
    /// If `scale` is not in `(0, MAX_SCALE]`.
    pub fn generate(seed: u64, scale: f64) -> World {
        assert!(
            scale.is_finite() && scale > 0.0 && scale <= MAX_SCALE,
            "scale must be in (0, {MAX_SCALE}], got {scale}"
        );
        Builder::new(seed).build(seed, scale)
    }

    /// All membership spells of one practice, oldest first.
    pub fn memberships_of(&self, practice: usize) -> &[Membership] {
        let lo = self.memberships.partition_point(|m| m.practice < practice);
        let hi = self.memberships.partition_point(|m| m.practice <= practice);
        &self.memberships[lo..hi]
    }

    /// The PCN a practice belongs to on `day`.
    pub fn pcn_at(&self, practice: usize, day: NaiveDate) -> Option<usize> {
        self.memberships_of(practice)
            .iter()
            .find(|m| m.covers(day))
            .map(|m| m.pcn)
    }

    /// Registered patients of every practice open at the extract for `month` (normalised to
    /// the 1st), in practice-code order.
    pub fn registrations(&self, month: NaiveDate) -> Vec<PracticeRegistrations> {
        let month = month_start(month);
        (0..self.practices.len())
            .filter_map(|i| self.practice_registrations(i, month))
            .collect()
    }

    /// One practice's registered patients at the extract for `month`, if it was open then.
    pub fn practice_registrations(
        &self,
        practice: usize,
        month: NaiveDate,
    ) -> Option<PracticeRegistrations> {
        let month = month_start(month);
        let p = &self.practices[practice];
        if !p.is_open_on(month) {
            return None;
        }
        let model = &p.list;
        let t = months_between(AS_OF, month) as f64;
        let mut total = model.size * (model.growth * t).exp();
        let age = months_between(p.open_date, month) as f64;
        if age < 18.0 {
            // A new practice builds its list over its first eighteen months.
            total *= 0.35 + 0.65 * age.max(0.0) / 18.0;
        }
        if let Some(close) = p.close_date {
            // Patients drift away from a practice in its last months.
            let left = months_between(month, close) as f64;
            if left < 9.0 {
                total *= 0.55 + 0.45 * left.max(0.0) / 9.0;
            }
        }
        let month_key = mix(model.key, month_index(month) as u64);
        total *= 1.0 + 0.004 * signed_unit(month_key);

        let mut male = [0u32; BAND_COUNT];
        let mut female = [0u32; BAND_COUNT];
        for (sex, out) in [(MALE, &mut male), (FEMALE, &mut female)] {
            let share = if sex == FEMALE {
                model.female_share
            } else {
                1.0 - model.female_share
            };
            let mut weights = [0.0f64; BAND_COUNT];
            for (band, w) in weights.iter_mut().enumerate() {
                // Lists age slowly: older bands gain share month on month.
                let drift = 0.0003 * (band_centre(band) - 40.0) / 40.0;
                *w = model.weights[sex][band] * (drift * t).exp();
            }
            let sum: f64 = weights.iter().sum();
            for (band, count) in out.iter_mut().enumerate() {
                let jitter = 1.0 + 0.015 * signed_unit(mix(month_key, (sex * 32 + band) as u64));
                *count = (total * share * weights[band] / sum * jitter)
                    .round()
                    .max(0.0) as u32;
            }
        }
        Some(PracticeRegistrations {
            practice,
            male,
            female,
        })
    }
}

/// `count` consecutive month starts, oldest first, ending with the month of `latest`.
pub fn months_ending(latest: NaiveDate, count: usize) -> Vec<NaiveDate> {
    let latest = month_start(latest);
    (0..count as u32)
        .rev()
        .map(|back| {
            latest
                .checked_sub_months(Months::new(back))
                .expect("month within chrono's range")
        })
        .collect()
}

/// The first day of `day`'s month.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn month_index(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 12 + i64::from(day.month0())
}

/// Whole calendar months from `from` to `to` (negative when `to` is earlier).
fn months_between(from: NaiveDate, to: NaiveDate) -> i64 {
    month_index(to) - month_index(from)
}

fn band_centre(band: usize) -> f64 {
    5.0 * band as f64 + 2.5
}

fn add_months(day: NaiveDate, months: i64) -> NaiveDate {
    let shifted = if months >= 0 {
        day.checked_add_months(Months::new(months.unsigned_abs() as u32))
    } else {
        day.checked_sub_months(Months::new(months.unsigned_abs() as u32))
    };
    shifted.expect("date within chrono's range")
}

fn previous_day(day: NaiveDate) -> NaiveDate {
    day.checked_sub_days(Days::new(1))
        .expect("date within chrono's range")
}

fn next_day(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1))
        .expect("date within chrono's range")
}

/// The last day of the month `months` after `AS_OF` (negative for the past).
fn month_end_from_as_of(months: i64) -> NaiveDate {
    previous_day(add_months(AS_OF, months + 1))
}

/// A day between two dates, inclusive.
fn day_between(rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0);
    from.checked_add_days(Days::new(rng.between(0, span) as u64))
        .expect("date within chrono's range")
}

struct RegionSpec {
    code: &'static str,
    ons_code: &'static str,
    name: &'static str,
    /// ICBs in the region in 2022–25.
    icbs: usize,
    /// Share of England's practices.
    practice_share: f64,
    /// How much younger than England the region's registered lists are.
    youth: f64,
    /// Historic first letters of practice codes.
    code_letters: &'static [char],
    postcode_areas: &'static [&'static str],
    /// Share of practices on TPP SystmOne rather than EMIS.
    tpp_share: f64,
}

const REGIONS: [RegionSpec; 7] = [
    RegionSpec {
        code: "Y56",
        ons_code: "E40000003",
        name: "London",
        icbs: 5,
        practice_share: 0.185,
        youth: 0.6,
        code_letters: &['E', 'F'],
        postcode_areas: &[
            "E", "N", "NW", "SE", "SW", "W", "BR", "CR", "HA", "IG", "KT", "RM", "SM", "TW", "UB",
            "EN", "DA",
        ],
        tpp_share: 0.2,
    },
    RegionSpec {
        code: "Y58",
        ons_code: "E40000006",
        name: "South West",
        icbs: 7,
        practice_share: 0.09,
        youth: -0.35,
        code_letters: &['L', 'J'],
        postcode_areas: &[
            "BS", "BA", "GL", "SN", "SP", "BH", "DT", "EX", "PL", "TQ", "TR", "TA",
        ],
        tpp_share: 0.3,
    },
    RegionSpec {
        code: "Y59",
        ons_code: "E40000005",
        name: "South East",
        icbs: 6,
        practice_share: 0.13,
        youth: -0.1,
        code_letters: &['G', 'H', 'K'],
        postcode_areas: &[
            "OX", "RG", "SL", "GU", "PO", "SO", "BN", "RH", "TN", "ME", "CT", "MK", "HP",
        ],
        tpp_share: 0.35,
    },
    RegionSpec {
        code: "Y60",
        ons_code: "E40000008",
        name: "Midlands",
        icbs: 11,
        practice_share: 0.17,
        youth: 0.0,
        code_letters: &['C', 'M'],
        postcode_areas: &[
            "B", "CV", "WV", "WS", "DY", "ST", "TF", "WR", "HR", "DE", "NG", "LE", "LN", "NN",
        ],
        tpp_share: 0.4,
    },
    RegionSpec {
        code: "Y61",
        ons_code: "E40000007",
        name: "East of England",
        icbs: 6,
        practice_share: 0.095,
        youth: -0.1,
        code_letters: &['D', 'F'],
        postcode_areas: &["CB", "PE", "NR", "IP", "CO", "CM", "SS", "SG", "AL", "LU"],
        tpp_share: 0.65,
    },
    RegionSpec {
        code: "Y62",
        ons_code: "E40000010",
        name: "North West",
        icbs: 3,
        practice_share: 0.165,
        youth: 0.05,
        code_letters: &['N', 'P'],
        postcode_areas: &[
            "CA", "LA", "PR", "BB", "BL", "FY", "M", "OL", "SK", "WA", "WN", "L", "CH", "CW",
        ],
        tpp_share: 0.25,
    },
    RegionSpec {
        code: "Y63",
        ons_code: "E40000009",
        name: "North East and Yorkshire",
        icbs: 4,
        practice_share: 0.165,
        youth: -0.05,
        code_letters: &['A', 'B'],
        postcode_areas: &[
            "TS", "DL", "DH", "NE", "SR", "YO", "HU", "LS", "BD", "HX", "HD", "WF", "S", "DN", "HG",
        ],
        tpp_share: 0.6,
    },
];

/// National counts at scale 1.0.
const NATIONAL_ICBS: f64 = 42.0;
const NATIONAL_SUB_ICBS: f64 = 106.0;
const NATIONAL_PCNS: f64 = 1250.0;
const NATIONAL_PRACTICES: f64 = 6300.0;

/// England's registered population by band at roughly 2024 shape (per mille, each sex).
const BASE_PYRAMID: [[f64; BAND_COUNT]; 2] = [
    [
        54.0, 59.0, 62.0, 58.0, 60.0, 68.0, 73.0, 71.0, 67.0, 63.0, 67.0, 66.0, 58.0, 49.0, 45.0,
        34.0, 21.0, 11.0, 4.5, 1.2,
    ],
    [
        51.0, 56.0, 59.0, 56.0, 61.0, 69.0, 74.0, 71.0, 66.0, 63.0, 68.0, 67.0, 59.0, 51.0, 48.0,
        38.0, 25.0, 16.0, 8.0, 3.0,
    ],
];

/// Extra weight on student ages at a university health centre.
const STUDENT_BOOST: [f64; BAND_COUNT] = [
    0.3, 0.3, 0.3, 2.5, 9.0, 2.0, 1.0, 0.7, 0.6, 0.5, 0.5, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
    0.3,
];

const TOWN_PREFIXES: &[&str] = &[
    "Elm", "Ash", "Oak", "Thorn", "Birch", "Hazel", "Willow", "Alder", "Holly", "Bram", "Brad",
    "Brom", "Hart", "Wood", "Mill", "Stan", "Ald", "Bex", "Church", "Kings", "Queens", "Castle",
    "Market", "Black", "White", "Red", "Green", "Long", "Broad", "Fair", "Stone", "Wind", "Marsh",
    "Hol", "Lang", "Bur", "Cres", "Hal", "Ros", "Sand", "Shel", "Brook", "Fern", "Heath", "Moor",
    "High", "Ed", "Kel", "Wel", "Cal", "Dun", "Gran", "Hamp", "Lynd", "Wex", "Ather", "Bever",
    "Cran", "Dray", "Hunt", "Pen", "Ravens", "Sutton", "Nor", "Wes", "Aller", "Barn", "Chal",
];

const TOWN_SUFFIXES: &[&str] = &[
    "field", "ford", "ton", "ham", "bury", "wick", "ley", "by", "worth", "stead", "mouth",
    "bridge", "dale", "minster", "well", "thorpe", "combe", "hurst", "borough", "den", "gate",
    "holme", "ington", "port", "chester", "wood", "leigh", "cliffe", "haven", "sey",
];

const DIRECTIONS: &[&str] = &[
    "North", "South", "East", "West", "Mid", "Central", "Greater",
];

const TREES: &[&str] = &[
    "Elm", "Oak", "Beech", "Ash", "Willow", "Yew", "Cedar", "Chestnut", "Lime", "Holly", "Rowan",
    "Sycamore", "Poplar", "Maple",
];

const FEATURES: &[&str] = &[
    "Riverside",
    "Parkside",
    "Hillside",
    "Brookside",
    "Lakeside",
    "Woodlands",
    "Meadowbank",
    "Northgate",
    "Southgate",
    "Westgate",
    "Eastgate",
    "Castlegate",
    "Fairfield",
    "Springfield",
    "Greenfield",
    "Highfield",
    "Orchard",
    "Abbey",
    "Priory",
    "Valley",
    "Market Place",
    "Elmwood",
    "Oakwood",
    "Beechwood",
    "Riverbank",
    "Harbour",
    "Bridgewater",
];

const STREET_STEMS: &[&str] = &[
    "Church",
    "High",
    "Station",
    "Park",
    "Mill",
    "London",
    "Victoria",
    "Albert",
    "Queen",
    "King",
    "Manor",
    "School",
    "Chapel",
    "Market",
    "Bridge",
    "North",
    "South",
    "West",
    "New",
    "Green",
    "Elm",
    "Oak",
    "Beech",
    "Cedar",
    "Willow",
    "Orchard",
    "Grange",
    "Meadow",
    "Windsor",
    "Princes",
    "York",
    "George",
    "Castle",
    "Brook",
    "Hill",
    "Wellington",
    "Clarence",
    "Alexandra",
    "Lime",
    "Birch",
    "Gladstone",
    "Tennant",
    "Coatham",
    "Borough",
];

const STREET_TYPES: &[&str] = &[
    "Street", "Road", "Lane", "Avenue", "Way", "Close", "Drive", "Crescent", "Terrace", "Place",
    "Grove", "Parade", "Gardens",
];

const BUILDINGS: &[&str] = &[
    "The Health Centre",
    "The Surgery",
    "Primary Care Centre",
    "The Medical Centre",
    "Health and Wellbeing Centre",
    "Community Health Centre",
    "The Old Vicarage",
    "Civic Centre",
];

const SURNAMES: &[&str] = &[
    "Densham",
    "Patel",
    "Shah",
    "Khan",
    "Ahmed",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Robinson",
    "Thompson",
    "White",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Harris",
    "Martin",
    "Jackson",
    "Clarke",
    "Lewis",
    "Singh",
    "Chaudhry",
    "Rahman",
    "Hussain",
    "Murray",
    "Kaur",
    "Okafor",
    "Adeyemi",
    "Nair",
    "Iyer",
    "Das",
    "Mehta",
    "Koh",
    "Rasool",
    "Campbell",
    "Stewart",
    "Kelly",
    "Murphy",
    "O'Brien",
    "McKenzie",
    "Erimus",
    "Roseberry",
];

const SAINTS: &[&str] = &[
    "Mary", "John", "Peter", "Andrew", "George", "Luke", "Paul", "James", "Margaret", "Thomas",
    "Anne", "Helen",
];

const PCN_SUFFIXES: &[&str] = &[
    "North",
    "South",
    "East",
    "West",
    "Central",
    "Rural",
    "Villages",
    "Health",
    "Healthcare",
    "Care",
    "Alliance",
    "Partnership",
    "Network",
    "Collaborative",
    "Coastal",
    "Valley",
    "& District",
    "Together",
    "Primary Care",
    "Community",
    "Integrated Care",
];

const POSTCODE_INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// Where a sub-ICB's practices are: towns with postcode districts, plus shared codes.
struct Locale {
    towns: Vec<Town>,
    postcode_area: &'static str,
    phone_area: String,
    code_prefix: String,
    /// Last legacy code number used under `code_prefix`.
    next_seq: u32,
    youth: f64,
}

struct Town {
    name: String,
    weight: f64,
    district: u32,
}

/// A spell while the world is being built, keyed by the pre-sort PCN index.
#[derive(Clone, Copy)]
struct Spell {
    pcn: usize,
    start: NaiveDate,
    end: Option<NaiveDate>,
}

struct Builder {
    rng: Rng,
    towns_used: HashSet<String>,
    pcn_names_used: HashSet<String>,
    pcn_codes_used: HashSet<u32>,
    y_codes_used: HashSet<u32>,
    prefixes_used: HashSet<String>,
}

impl Builder {
    fn new(seed: u64) -> Self {
        Builder {
            rng: Rng::new(seed),
            towns_used: HashSet::new(),
            pcn_names_used: HashSet::new(),
            pcn_codes_used: HashSet::new(),
            y_codes_used: HashSet::new(),
            prefixes_used: HashSet::new(),
        }
    }

    fn build(mut self, seed: u64, scale: f64) -> World {
        let regions: Vec<Region> = REGIONS
            .iter()
            .map(|r| Region {
                code: r.code.to_owned(),
                ons_code: r.ons_code.to_owned(),
                name: r.name.to_owned(),
            })
            .collect();

        let (icbs, icb_weights, icb_towns) = self.icbs(scale);
        let (sub_icbs, sub_weights) = self.sub_icbs(scale, &icbs, &icb_weights);
        let mut locales = self.locales(&sub_icbs, &icb_towns);

        let n_practices = scaled(NATIONAL_PRACTICES, scale, 1);
        let min_each = usize::from(n_practices >= sub_icbs.len());
        let per_sub = apportion(
            n_practices,
            &sub_weights,
            &vec![min_each; sub_icbs.len()],
            &vec![usize::MAX; sub_icbs.len()],
        );
        let mut practices = Vec::with_capacity(n_practices);
        let mut in_pcn_pool = Vec::with_capacity(n_practices);
        for (s, &count) in per_sub.iter().enumerate() {
            for j in 0..count {
                let (practice, pooled) = self.practice(&sub_icbs[s], s, &mut locales[s], j == 0);
                practices.push(practice);
                in_pcn_pool.push(pooled);
            }
        }

        let (pcns, spells) = self.pcns(scale, &sub_icbs, &icbs, &practices, &in_pcn_pool);
        let world = World {
            seed,
            scale,
            regions,
            icbs,
            sub_icbs,
            pcns,
            practices,
            memberships: Vec::new(),
        };
        finish(world, spells)
    }

    fn icbs(&mut self, scale: f64) -> (Vec<Icb>, Vec<f64>, Vec<Vec<String>>) {
        let n_icbs = scaled(NATIONAL_ICBS, scale, REGIONS.len());
        let real: Vec<f64> = REGIONS.iter().map(|r| r.icbs as f64).collect();
        let per_region = apportion(
            n_icbs,
            &real,
            &[1; REGIONS.len()],
            &[usize::MAX; REGIONS.len()],
        );
        let mut codes = HashSet::new();
        let mut icbs = Vec::with_capacity(n_icbs);
        let mut weights = Vec::with_capacity(n_icbs);
        let mut towns = Vec::with_capacity(n_icbs);
        for (region, &count) in per_region.iter().enumerate() {
            let shares: Vec<f64> = (0..count).map(|_| self.rng.spread(0.45)).collect();
            let total: f64 = shares.iter().sum();
            for share in shares {
                let code = loop {
                    let code = format!(
                        "Q{}{}",
                        self.letter(),
                        *self.rng.pick(b"ABCDEFGHJKLMNOPRSTUVWXYZ0123456789") as char
                    );
                    if code != "Q99" && codes.insert(code.clone()) {
                        break code;
                    }
                };
                let (short_name, name_towns) = self.icb_short_name();
                icbs.push(Icb {
                    ons_code: format!("E54{:06}", 8 + icbs.len()),
                    name: format!("NHS {short_name} Integrated Care Board"),
                    code,
                    short_name,
                    region,
                });
                weights.push(REGIONS[region].practice_share * share / total);
                towns.push(name_towns);
            }
        }
        (icbs, weights, towns)
    }

    fn icb_short_name(&mut self) -> (String, Vec<String>) {
        let roll = self.rng.unit();
        let first = self.town_name();
        if roll < 0.55 {
            let second = self.town_name();
            (format!("{first} and {second}"), vec![first, second])
        } else if roll < 0.75 {
            let direction = self.rng.pick(DIRECTIONS);
            (format!("{direction} {first}"), vec![first])
        } else if roll < 0.9 {
            let second = self.town_name();
            let third = self.town_name();
            (
                format!("{first}, {second} and {third}"),
                vec![first, second, third],
            )
        } else {
            (first.clone(), vec![first])
        }
    }

    fn sub_icbs(
        &mut self,
        scale: f64,
        icbs: &[Icb],
        icb_weights: &[f64],
    ) -> (Vec<SubIcb>, Vec<f64>) {
        let n_subs = scaled(NATIONAL_SUB_ICBS, scale, icbs.len());
        let per_icb = apportion(
            n_subs,
            icb_weights,
            &vec![1; icbs.len()],
            &vec![usize::MAX; icbs.len()],
        );
        let mut codes = HashSet::new();
        let mut ons = 0u32;
        let mut subs = Vec::with_capacity(n_subs);
        let mut weights = Vec::with_capacity(n_subs);
        for (i, icb) in icbs.iter().enumerate() {
            let shares: Vec<f64> = (0..per_icb[i]).map(|_| self.rng.spread(0.35)).collect();
            let total: f64 = shares.iter().sum();
            for share in shares {
                let code = loop {
                    let first = if self.rng.chance(0.1) {
                        self.letter()
                    } else {
                        char::from(b'0' + self.rng.below(10) as u8)
                    };
                    let code = format!("{first}{}{}", self.rng.below(10), self.letter());
                    if codes.insert(code.clone()) {
                        break code;
                    }
                };
                ons += 1 + self.rng.below(4) as u32;
                let open_date = *self.rng.pick(&[
                    ymd(2013, 4, 1),
                    ymd(2013, 4, 1),
                    ymd(2020, 4, 1),
                    ymd(2021, 4, 1),
                    ymd(2022, 7, 1),
                ]);
                subs.push(SubIcb {
                    name: format!("NHS {} ICB - {code}", icb.short_name),
                    ons_code: format!("E38{ons:06}"),
                    code,
                    icb: i,
                    region: icb.region,
                    open_date,
                });
                weights.push(icb_weights[i] * share / total);
            }
        }
        (subs, weights)
    }

    fn locales(&mut self, subs: &[SubIcb], icb_towns: &[Vec<String>]) -> Vec<Locale> {
        let mut seen_icb = vec![false; icb_towns.len()];
        let mut per_region_index = [0usize; REGIONS.len()];
        subs.iter()
            .map(|sub| {
                let spec = &REGIONS[sub.region];
                let area_slot = per_region_index[sub.region];
                per_region_index[sub.region] += 1;
                let postcode_area = spec.postcode_areas[area_slot % spec.postcode_areas.len()];
                let mut names = Vec::new();
                if !seen_icb[sub.icb] {
                    // The towns an ICB is named after lie in its first sub-ICB.
                    seen_icb[sub.icb] = true;
                    names.extend(icb_towns[sub.icb].iter().cloned());
                }
                let extra = 2 + self.rng.below(5);
                for _ in 0..extra {
                    names.push(self.town_name());
                }
                let mut districts: Vec<u32> = (1..=40).collect();
                let towns = names
                    .into_iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let district = districts.swap_remove(self.rng.below(districts.len()));
                        let weight = self.rng.spread(0.8) * if i == 0 { 3.0 } else { 1.0 };
                        Town {
                            name,
                            weight,
                            district,
                        }
                    })
                    .collect();
                let phone_area = if spec.code == "Y56" {
                    "020".to_owned()
                } else {
                    format!("01{}{:02}", 2 + self.rng.below(8), self.rng.below(100))
                };
                let code_prefix = self.code_prefix(spec.code_letters);
                Locale {
                    towns,
                    postcode_area,
                    phone_area,
                    code_prefix,
                    next_seq: 0,
                    youth: spec.youth + 0.25 * self.rng.normal(),
                }
            })
            .collect()
    }

    /// A letter and two-digit area for practice codes, unique across sub-ICBs.
    fn code_prefix(&mut self, letters: &[char]) -> String {
        for _ in 0..200 {
            let prefix = format!("{}{:02}", self.rng.pick(letters), 1 + self.rng.below(99));
            if self.prefixes_used.insert(prefix.clone()) {
                return prefix;
            }
        }
        // The region's letters are exhausted (only at large scales): any legacy letter will do.
        loop {
            let prefix = format!("{}{:02}", self.letter_before_y(), 1 + self.rng.below(99));
            if self.prefixes_used.insert(prefix.clone()) {
                return prefix;
            }
        }
    }

    fn practice(
        &mut self,
        sub: &SubIcb,
        sub_index: usize,
        locale: &mut Locale,
        first_in_sub: bool,
    ) -> (Practice, bool) {
        // The first practice of each sub-ICB is always an established, open one so that every
        // populated sub-ICB has at least one PCN.
        let roll = if first_in_sub { 1.0 } else { self.rng.unit() };
        let (status, open_date, close_date, is_new) = if roll < 0.035 {
            let close = if self.rng.chance(0.75) {
                month_end_from_as_of(-self.rng.between(1, 69))
            } else {
                let before_pcns = months_between(AS_OF, ymd(2019, 5, 1));
                month_end_from_as_of(self.rng.between(before_pcns - 170, before_pcns))
            };
            (
                PracticeStatus::Closed,
                self.old_open(close),
                Some(close),
                false,
            )
        } else if roll < 0.043 {
            (PracticeStatus::Dormant, self.old_open(AS_OF), None, false)
        } else if roll < 0.048 {
            let open = add_months(AS_OF, self.rng.between(1, 6));
            (PracticeStatus::Proposed, open, None, true)
        } else if roll < 0.063 {
            let open = add_months(AS_OF, -self.rng.between(1, 30));
            (PracticeStatus::Active, open, None, true)
        } else {
            (PracticeStatus::Active, self.old_open(AS_OF), None, false)
        };

        let code = self.practice_code(locale, is_new);
        let town_weights: Vec<f64> = locale.towns.iter().map(|t| t.weight).collect();
        let town = &locale.towns[self.rng.weighted(&town_weights)];
        let (town_name, district) = (town.name.clone(), town.district);
        let student = status == PracticeStatus::Active && !is_new && self.rng.chance(0.006);
        let name = self.practice_name(&town_name, student);
        let address = self.address(&town_name);
        let postcode = self.postcode(locale.postcode_area, district);
        let phone = if locale.phone_area == "020" {
            format!(
                "020 {}{:03} {:04}",
                self.rng.pick(&[7, 8]),
                self.rng.below(1000),
                self.rng.below(10_000)
            )
        } else {
            format!(
                "{} {}",
                locale.phone_area,
                self.rng.between(200_000, 999_999)
            )
        };
        let supplier = if self.rng.chance(REGIONS[sub.region].tpp_share) {
            "TPP"
        } else {
            "EMIS"
        };
        let list = self.list_model(locale.youth, student);
        let in_pcn_pool =
            status == PracticeStatus::Active && (first_in_sub || !self.rng.chance(0.015));
        let practice = Practice {
            code,
            name,
            address,
            postcode,
            phone,
            open_date,
            close_date,
            status,
            sub_icb: sub_index,
            icb: sub.icb,
            region: sub.region,
            supplier: supplier.to_owned(),
            list,
        };
        (practice, in_pcn_pool)
    }

    /// An open date for an established practice that must predate `before` by some years.
    fn old_open(&mut self, before: NaiveDate) -> NaiveDate {
        let latest = ymd(2018, 12, 31).min(add_months(before, -24));
        if latest <= ymd(1975, 1, 1) || self.rng.chance(0.6) {
            LEGACY_OPEN
        } else {
            day_between(&mut self.rng, ymd(1975, 1, 1), latest)
        }
    }

    fn practice_code(&mut self, locale: &mut Locale, is_new: bool) -> String {
        if !is_new && !self.rng.chance(0.07) {
            // Legacy codes run upwards within an area, with gaps where practices merged long ago.
            locale.next_seq += 1;
            if self.rng.chance(0.3) {
                locale.next_seq += self.rng.below(3) as u32;
            }
            if locale.next_seq <= 999 {
                return format!("{}{:03}", locale.code_prefix, locale.next_seq);
            }
        }
        loop {
            let n = self.rng.between(1, 19_999) as u32;
            if self.y_codes_used.insert(n) {
                return format!("Y{n:05}");
            }
        }
    }

    fn practice_name(&mut self, town: &str, student: bool) -> String {
        let rng = &mut self.rng;
        if student {
            return if rng.chance(0.5) {
                format!("University of {town} Health Centre")
            } else {
                format!("{town} University Medical Practice")
            };
        }
        let roll = rng.unit();
        if roll < 0.12 {
            let tree = rng.pick(TREES);
            match rng.below(3) {
                0 => format!("The {tree} Tree Surgery"),
                1 => format!("{tree} Tree Surgery"),
                _ => format!("{tree} Tree Medical Practice"),
            }
        } else if roll < 0.30 {
            let feature = rng.pick(FEATURES);
            let kind = rng.pick(&[
                "Medical Centre",
                "Surgery",
                "Medical Practice",
                "Health Centre",
            ]);
            format!("{feature} {kind}")
        } else if roll < 0.42 {
            let stem = rng.pick(STREET_STEMS);
            let street = rng.pick(STREET_TYPES);
            let kind = rng.pick(&["Surgery", "Medical Practice", "Medical Centre"]);
            format!("{stem} {street} {kind}")
        } else if roll < 0.66 {
            let kind = rng.pick(&[
                "Medical Practice",
                "Health Centre",
                "Surgery",
                "Group Practice",
                "Family Practice",
                "Medical Group",
                "Medical Centre",
            ]);
            format!("{town} {kind}")
        } else if roll < 0.70 {
            let other = self.place_name();
            format!("{town} & {other} Medical Group")
        } else if roll < 0.80 {
            let surname = rng.pick(SURNAMES);
            let kind = rng.pick(&["Practice", "Surgery"]);
            format!("The {surname} {kind}")
        } else if roll < 0.84 {
            let first = rng.pick(SURNAMES);
            match rng.below(3) {
                0 => format!("Dr {} {first}", char::from(b'A' + rng.below(26) as u8)),
                1 => format!("Dr {first}'s Practice"),
                _ => {
                    let second = rng.pick(SURNAMES);
                    let third = rng.pick(SURNAMES);
                    format!("Drs {first}, {second} & {third}")
                }
            }
        } else if roll < 0.92 {
            let stem = if rng.chance(0.5) {
                rng.pick(STREET_STEMS)
            } else {
                rng.pick(SURNAMES)
            };
            format!("{stem} House Surgery")
        } else if roll < 0.97 {
            let saint = rng.pick(SAINTS);
            let kind = rng.pick(&["Surgery", "Medical Centre"]);
            format!("St {saint}'s {kind}")
        } else {
            let direction = rng.pick(DIRECTIONS);
            format!("{direction} {town} Medical Centre")
        }
    }

    fn address(&mut self, town: &str) -> Vec<String> {
        let mut lines = Vec::with_capacity(4);
        if self.rng.chance(0.45) {
            let building = if self.rng.chance(0.5) {
                (*self.rng.pick(BUILDINGS)).to_owned()
            } else {
                format!("{} House", self.rng.pick(STREET_STEMS))
            };
            lines.push(building);
        }
        let street = format!(
            "{} {}",
            self.rng.pick(STREET_STEMS),
            self.rng.pick(STREET_TYPES)
        );
        if self.rng.chance(0.6) {
            lines.push(format!("{} {street}", self.rng.between(1, 250)));
        } else {
            lines.push(street);
        }
        if self.rng.chance(0.35) {
            lines.push(self.place_name());
        }
        lines.push(town.to_owned());
        lines
    }

    fn postcode(&mut self, area: &str, district: u32) -> String {
        let a = *self.rng.pick(POSTCODE_INWARD_LETTERS) as char;
        let b = *self.rng.pick(POSTCODE_INWARD_LETTERS) as char;
        format!("{area}{district} {}{a}{b}", self.rng.below(10))
    }

    fn list_model(&mut self, locale_youth: f64, student: bool) -> ListModel {
        let rng = &mut self.rng;
        let size = if student {
            15_000.0 + 20_000.0 * rng.unit()
        } else if rng.chance(0.02) {
            500.0 + 1_500.0 * rng.unit()
        } else {
            (9_400.0 * rng.spread(0.6)).clamp(500.0, 40_000.0)
        };
        let growth = (0.0007 + 0.002 * rng.normal()).clamp(-0.01, 0.01);
        let female_share = if student {
            0.53
        } else {
            (0.5 + 0.01 * rng.normal()).clamp(0.44, 0.56)
        };
        let youth = locale_youth + 0.3 * rng.normal();
        let mut weights = [[0.0f64; BAND_COUNT]; 2];
        for (sex, row) in weights.iter_mut().enumerate() {
            for (band, w) in row.iter_mut().enumerate() {
                let tilt = (42.5 - band_centre(band)) / 50.0;
                *w = BASE_PYRAMID[sex][band]
                    * (1.4 * youth * tilt).exp()
                    * (1.0 + 0.06 * rng.normal()).max(0.5);
                if student {
                    *w *= STUDENT_BOOST[band];
                }
            }
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|w| *w /= sum);
        }
        ListModel {
            size,
            growth,
            female_share,
            weights,
            key: rng.next_u64(),
        }
    }

    /// Creates PCNs in every populated sub-ICB and the practices' membership spells, with a
    /// few practices in a PCN of a neighbouring sub-ICB, some PCN mergers and some moves.
    fn pcns(
        &mut self,
        scale: f64,
        subs: &[SubIcb],
        icbs: &[Icb],
        practices: &[Practice],
        in_pool: &[bool],
    ) -> (Vec<Pcn>, Vec<Vec<Spell>>) {
        let mut pool_of_sub: Vec<Vec<usize>> = vec![Vec::new(); subs.len()];
        for (i, p) in practices.iter().enumerate() {
            if in_pool[i] {
                pool_of_sub[p.sub_icb].push(i);
            }
        }
        let pooled: Vec<usize> = pool_of_sub.iter().map(Vec::len).collect();
        let weights: Vec<f64> = pooled.iter().map(|&n| n as f64).collect();
        let mins: Vec<usize> = pooled.iter().map(|&n| usize::from(n > 0)).collect();
        let per_sub = apportion(scaled(NATIONAL_PCNS, scale, 1), &weights, &mins, &pooled);

        let mut pcns: Vec<Pcn> = Vec::new();
        let mut pcns_of_sub: Vec<Vec<usize>> = vec![Vec::new(); subs.len()];
        let mut spells: Vec<Vec<Spell>> = vec![Vec::new(); practices.len()];
        let mut lead = vec![false; practices.len()];
        for (s, members) in pool_of_sub.iter().enumerate() {
            let first = pcns.len();
            let mut sizes = Vec::with_capacity(per_sub[s]);
            for &leader in &members[..per_sub[s]] {
                lead[leader] = true;
                let partner = practices[*self.rng.pick(members)].town().to_owned();
                let name = self.pcn_name(practices[leader].town(), &partner);
                let code = self.pcn_code();
                pcns_of_sub[s].push(pcns.len());
                pcns.push(Pcn {
                    code,
                    name,
                    sub_icb: s,
                    open_date: PCN_START,
                    close_date: None,
                    address: practices[leader].address.clone(),
                    postcode: practices[leader].postcode.clone(),
                });
                sizes.push(self.rng.spread(0.4));
            }
            for (k, &p) in members.iter().enumerate() {
                let pcn = if k < sizes.len() {
                    first + k
                } else {
                    first + self.rng.weighted(&sizes)
                };
                spells[p].push(Spell {
                    pcn,
                    start: practices[p].open_date.max(PCN_START),
                    end: None,
                });
            }
        }

        for (p, practice) in practices.iter().enumerate() {
            let Some(close) = practice.close_date else {
                continue;
            };
            let options = &pcns_of_sub[practice.sub_icb];
            if close >= PCN_START && !options.is_empty() {
                spells[p].push(Spell {
                    pcn: *self.rng.pick(options),
                    start: practice.open_date.max(PCN_START),
                    end: Some(close),
                });
            }
        }

        let mut subs_of_icb: Vec<Vec<usize>> = vec![Vec::new(); icbs.len()];
        for (s, sub) in subs.iter().enumerate() {
            subs_of_icb[sub.icb].push(s);
        }
        for p in 0..practices.len() {
            if !in_pool[p] || lead[p] || !self.rng.chance(0.01) {
                continue;
            }
            let home = practices[p].sub_icb;
            let neighbours: Vec<usize> = subs_of_icb[practices[p].icb]
                .iter()
                .copied()
                .filter(|&s| s != home && !pcns_of_sub[s].is_empty())
                .collect();
            if !neighbours.is_empty() {
                let s = *self.rng.pick(&neighbours);
                spells[p][0].pcn = *self.rng.pick(&pcns_of_sub[s]);
            }
        }

        self.merge_pcns(&mut pcns, &pcns_of_sub, &mut spells);
        self.move_practices(&pcns, &pcns_of_sub, &lead, in_pool, &mut spells);
        (pcns, spells)
    }

    /// Closes a few PCNs, moving their practices into another PCN of the same sub-ICB.
    fn merge_pcns(
        &mut self,
        pcns: &mut [Pcn],
        pcns_of_sub: &[Vec<usize>],
        spells: &mut [Vec<Spell>],
    ) {
        let mut closing = vec![false; pcns.len()];
        let mut receiving = vec![false; pcns.len()];
        for c in 0..pcns.len() {
            if receiving[c] || !self.rng.chance(0.006) {
                continue;
            }
            let targets: Vec<usize> = pcns_of_sub[pcns[c].sub_icb]
                .iter()
                .copied()
                .filter(|&o| o != c && !closing[o])
                .collect();
            if targets.is_empty() {
                continue;
            }
            let target = *self.rng.pick(&targets);
            let close = ymd(self.rng.between(2021, 2025) as i32, 3, 31);
            closing[c] = true;
            receiving[target] = true;
            pcns[c].close_date = Some(close);
            for practice_spells in spells.iter_mut() {
                let mut continuation = None;
                for spell in practice_spells.iter_mut().filter(|sp| sp.pcn == c) {
                    if spell.start > close {
                        spell.pcn = target;
                    } else if spell.end.is_none_or(|end| end > close) {
                        continuation = Some(Spell {
                            pcn: target,
                            start: next_day(close),
                            end: spell.end,
                        });
                        spell.end = Some(close);
                    }
                }
                practice_spells.extend(continuation);
            }
        }
    }

    /// Moves a few practices to another PCN of the same sub-ICB at the start of a month.
    fn move_practices(
        &mut self,
        pcns: &[Pcn],
        pcns_of_sub: &[Vec<usize>],
        lead: &[bool],
        in_pool: &[bool],
        spells: &mut [Vec<Spell>],
    ) {
        for (p, practice_spells) in spells.iter_mut().enumerate() {
            if !in_pool[p] || lead[p] || practice_spells.len() != 1 || !self.rng.chance(0.004) {
                continue;
            }
            let current = practice_spells[0];
            let earliest = month_start(add_months(current.start, 3)).max(ymd(2020, 4, 1));
            let latest = add_months(AS_OF, -1);
            if earliest > latest || current.end.is_some() {
                continue;
            }
            let targets: Vec<usize> = pcns_of_sub[pcns[current.pcn].sub_icb]
                .iter()
                .copied()
                .filter(|&o| o != current.pcn && pcns[o].close_date.is_none())
                .collect();
            if targets.is_empty() {
                continue;
            }
            let moved = add_months(
                earliest,
                self.rng.between(0, months_between(earliest, latest)),
            );
            practice_spells[0].end = Some(previous_day(moved));
            practice_spells.push(Spell {
                pcn: *self.rng.pick(&targets),
                start: moved,
                end: None,
            });
        }
    }

    fn pcn_name(&mut self, town: &str, partner: &str) -> String {
        for _ in 0..16 {
            let roll = self.rng.unit();
            let name = if roll < 0.7 {
                format!("{town} {} PCN", self.rng.pick(PCN_SUFFIXES))
            } else if roll < 0.85 || partner == town {
                format!("{town} PCN")
            } else {
                format!("{town} and {partner} PCN")
            };
            if self.pcn_names_used.insert(name.clone()) {
                return name;
            }
        }
        (2..)
            .map(|n| format!("{town} {n} PCN"))
            .find(|name| self.pcn_names_used.insert(name.clone()))
            .expect("an unused PCN name")
    }

    fn pcn_code(&mut self) -> String {
        loop {
            let n = self.rng.between(10_000, 99_999) as u32;
            if self.pcn_codes_used.insert(n) {
                return format!("U{n:05}");
            }
        }
    }

    fn town_name(&mut self) -> String {
        for _ in 0..32 {
            let name = self.place_name();
            if self.towns_used.insert(name.clone()) {
                return name;
            }
        }
        // Out of fresh names (large scales only); England repeats town names too.
        self.place_name()
    }

    fn place_name(&mut self) -> String {
        let prefix = self.rng.pick(TOWN_PREFIXES);
        let suffix = self.rng.pick(TOWN_SUFFIXES);
        if prefix.ends_with(&suffix[..1]) {
            format!("{prefix}{}", &suffix[1..])
        } else {
            format!("{prefix}{suffix}")
        }
    }

    fn letter(&mut self) -> char {
        char::from(b'A' + self.rng.below(26) as u8)
    }

    /// A first letter used by legacy English practice codes (`W` is Wales, `Y` is newer codes).
    fn letter_before_y(&mut self) -> char {
        *self.rng.pick(&[
            'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'R', 'S', 'T',
            'V', 'X',
        ])
    }
}

/// `national × scale`, rounded, but at least `min`.
fn scaled(national: f64, scale: f64, min: usize) -> usize {
    ((national * scale).round() as usize).max(min)
}

/// Shares `total` out in proportion to `weights` (Sainte-Laguë), giving each entry at least
/// `min[i]` and at most `cap[i]`. The result may exceed `total` when the minimums do.
fn apportion(total: usize, weights: &[f64], min: &[usize], cap: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = min.iter().zip(cap).map(|(m, c)| *m.min(c)).collect();
    let mut left = total.saturating_sub(out.iter().sum());
    while left > 0 {
        let quotient = |i: usize| weights[i] / (out[i] as f64 + 0.5);
        let best = (0..weights.len())
            .filter(|&i| out[i] < cap[i] && weights[i] > 0.0)
            .fold(None, |best: Option<usize>, i| match best {
                Some(b) if quotient(b) >= quotient(i) => Some(b),
                _ => Some(i),
            });
        let Some(i) = best else { break };
        out[i] += 1;
        left -= 1;
    }
    out
}

/// Sorts practices and PCNs by code, as the publishers list them, and turns the build-time
/// spells into memberships that refer to the sorted indices.
fn finish(mut world: World, spells: Vec<Vec<Spell>>) -> World {
    let mut pcn_order: Vec<usize> = (0..world.pcns.len()).collect();
    pcn_order.sort_by(|&a, &b| world.pcns[a].code.cmp(&world.pcns[b].code));
    let mut pcn_index = vec![0; pcn_order.len()];
    for (new, &old) in pcn_order.iter().enumerate() {
        pcn_index[old] = new;
    }
    world.pcns = pcn_order
        .iter()
        .map(|&old| world.pcns[old].clone())
        .collect();

    let mut practice_order: Vec<usize> = (0..world.practices.len()).collect();
    practice_order.sort_by(|&a, &b| world.practices[a].code.cmp(&world.practices[b].code));
    world.practices = practice_order
        .iter()
        .map(|&old| world.practices[old].clone())
        .collect();

    world.memberships = practice_order
        .iter()
        .enumerate()
        .flat_map(|(new, &old)| {
            let mut own = spells[old].clone();
            own.sort_by_key(|s| s.start);
            own.into_iter().map(move |s| (new, s))
        })
        .map(|(practice, s)| Membership {
            practice,
            pcn: pcn_index[s.pcn],
            start: s.start,
            end: s.end,
        })
        .collect();
    world
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_ending_end_at_latest() {
        assert_eq!(
            months_ending(ymd(2024, 2, 17), 3),
            vec![ymd(2023, 12, 1), ymd(2024, 1, 1), ymd(2024, 2, 1)]
        );
        assert!(months_ending(AS_OF, 0).is_empty());
        let months = months_ending(AS_OF, 24);
        assert_eq!(months.len(), 24);
        assert_eq!(*months.last().unwrap(), AS_OF);
    }

    fn is_ons(code: &str, prefix: &str) -> bool {
        code.len() == 9 && code.starts_with(prefix) && code[3..].bytes().all(|b| b.is_ascii_digit())
    }

    fn assert_unique<'a>(codes: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for code in codes {
            assert!(seen.insert(code), "duplicate code {code}");
        }
    }

    /// Structural invariants every world must satisfy, whatever its scale.
    fn assert_valid(world: &World) {
        let codes: Vec<&str> = world.regions.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63"]);
        assert!(world.regions.iter().all(|r| is_ons(&r.ons_code, "E40")));
        for region in 0..world.regions.len() {
            assert!(world.icbs.iter().any(|i| i.region == region));
        }

        for icb in &world.icbs {
            assert!(
                icb.code.len() == 3 && icb.code.starts_with('Q'),
                "{}",
                icb.code
            );
            assert!(is_ons(&icb.ons_code, "E54"));
            assert_eq!(
                icb.name,
                format!("NHS {} Integrated Care Board", icb.short_name)
            );
        }
        for (i, _) in world.icbs.iter().enumerate() {
            assert!(world.sub_icbs.iter().any(|s| s.icb == i));
        }
        for sub in &world.sub_icbs {
            assert!(sub.code.len() == 3 && sub.code.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(is_ons(&sub.ons_code, "E38"));
            assert_eq!(sub.region, world.icbs[sub.icb].region);
            assert!(sub.name.ends_with(&format!("ICB - {}", sub.code)));
        }
        assert_unique(world.icbs.iter().map(|i| i.code.as_str()));
        assert_unique(world.sub_icbs.iter().map(|s| s.code.as_str()));
        assert_unique(world.icbs.iter().map(|i| i.ons_code.as_str()));
        assert_unique(world.sub_icbs.iter().map(|s| s.ons_code.as_str()));

        assert!(!world.pcns.is_empty() && !world.practices.is_empty());
        assert!(world.pcns.windows(2).all(|w| w[0].code < w[1].code));
        assert!(world.practices.windows(2).all(|w| w[0].code < w[1].code));
        for pcn in &world.pcns {
            assert!(pcn.code.len() == 6 && pcn.code.starts_with('U'));
            assert!(pcn.code[1..].bytes().all(|b| b.is_ascii_digit()));
            assert!(pcn.name.ends_with(" PCN"));
            assert!((1..=4).contains(&pcn.address.len()));
        }
        for p in &world.practices {
            let bytes = p.code.as_bytes();
            assert!(
                bytes.len() == 6 && bytes[0].is_ascii_uppercase(),
                "{}",
                p.code
            );
            assert!(bytes[1..].iter().all(u8::is_ascii_digit), "{}", p.code);
            assert!((2..=4).contains(&p.address.len()));
            let (outward, inward) = p.postcode.split_once(' ').expect("postcode has a space");
            assert!(
                (2..=4).contains(&outward.len()) && inward.len() == 3,
                "{}",
                p.postcode
            );
            assert_eq!(p.icb, world.sub_icbs[p.sub_icb].icb);
            assert_eq!(p.region, world.icbs[p.icb].region);
            assert_eq!(p.close_date.is_some(), p.status == PracticeStatus::Closed);
            if let Some(close) = p.close_date {
                assert!(p.open_date < close && close < AS_OF);
            }
            assert_eq!(p.open_date > AS_OF, p.status == PracticeStatus::Proposed);
            for sex in [MALE, FEMALE] {
                assert!((p.list.weights[sex].iter().sum::<f64>() - 1.0).abs() < 1e-9);
            }
        }

        assert!(
            world
                .memberships
                .windows(2)
                .all(|w| { (w[0].practice, w[0].start) < (w[1].practice, w[1].start) })
        );
        for (i, p) in world.practices.iter().enumerate() {
            let spells = world.memberships_of(i);
            for pair in spells.windows(2) {
                let end = pair[0].end.expect("only the last spell may be open");
                assert!(end < pair[1].start);
            }
            for m in spells {
                assert!(m.start >= PCN_START && m.start >= p.open_date);
                assert!(m.end.is_none_or(|end| m.start <= end));
                assert!(m.start >= world.pcns[m.pcn].open_date);
                if let Some(close) = world.pcns[m.pcn].close_date {
                    assert!(m.end.is_some_and(|end| end <= close));
                }
                if let Some(close) = p.close_date {
                    assert!(m.end.is_some_and(|end| end <= close));
                }
            }
            if !matches!(p.status, PracticeStatus::Active | PracticeStatus::Closed) {
                assert!(spells.is_empty());
            }
        }
        for (c, pcn) in world.pcns.iter().enumerate() {
            let day = pcn.close_date.unwrap_or(AS_OF);
            let members = world
                .memberships
                .iter()
                .filter(|m| m.pcn == c && m.covers(day))
                .count();
            assert!(members > 0, "PCN {} empty on {day}", pcn.code);
        }

        let registrations = world.registrations(AS_OF);
        let open = world
            .practices
            .iter()
            .filter(|p| p.is_open_on(AS_OF))
            .count();
        assert_eq!(registrations.len(), open);
        assert!(registrations.iter().all(|r| r.total() > 0));
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut state), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn rng_ranges_hold() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            assert!((-3..=3).contains(&rng.between(-3, 3)));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(rng.weighted(&[0.0, 0.0, 5.0]), 2);
    }

    #[test]
    fn national_world_has_england_shaped_counts() {
        let world = World::generate(2024, 1.0);
        assert_valid(&world);
        assert_eq!(world.icbs.len(), 42);
        assert!((100..=110).contains(&world.sub_icbs.len()));
        assert!((1200..=1300).contains(&world.pcns.len()));
        assert!((6200..=6400).contains(&world.practices.len()));

        let count = |status| {
            world
                .practices
                .iter()
                .filter(|p| p.status == status)
                .count()
        };
        let n = world.practices.len();
        assert!((n / 50..n / 15).contains(&count(PracticeStatus::Closed)));
        assert!(count(PracticeStatus::Dormant) > 0 && count(PracticeStatus::Proposed) > 0);

        let open: Vec<usize> = (0..n)
            .filter(|&i| world.practices[i].is_open_on(AS_OF))
            .collect();
        let unallocated = open
            .iter()
            .filter(|&&i| world.pcn_at(i, AS_OF).is_none())
            .count();
        assert!((open.len() / 200..open.len() / 30).contains(&unallocated));

        // Practices that changed PCN while staying open: an ended spell then a new one.
        let moved = (0..n)
            .filter(|&i| world.memberships_of(i).len() > 1)
            .count();
        assert!((5..=150).contains(&moved), "{moved} practices moved");
        assert!(world.pcns.iter().any(|p| p.close_date.is_some()));

        let mut sizes: Vec<u64> = world
            .registrations(AS_OF)
            .iter()
            .map(PracticeRegistrations::total)
            .collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((8_000..=10_000).contains(&median), "median {median}");
        assert!(sizes[0] >= 300 && *sizes.last().unwrap() <= 45_000);
        let total: u64 = sizes.iter().sum();
        assert!((50_000_000..75_000_000).contains(&total), "total {total}");

        let elm = world
            .practices
            .iter()
            .filter(|p| p.name.to_lowercase().contains("elm"))
            .count();
        assert!(
            (n / 100..n / 10).contains(&elm),
            "{elm} practices match 'elm'"
        );
    }

    #[test]
    fn national_age_structure_is_plausible() {
        let world = World::generate(5, 0.3);
        let registrations = world.registrations(AS_OF);
        let mut male = 0u64;
        let mut female = 0u64;
        let mut over_65 = 0u64;
        let mut under_15 = 0u64;
        for r in &registrations {
            male += r.male.iter().map(|&n| u64::from(n)).sum::<u64>();
            female += r.female.iter().map(|&n| u64::from(n)).sum::<u64>();
            for band in 0..BAND_COUNT {
                let both = u64::from(r.male[band]) + u64::from(r.female[band]);
                if band >= 13 {
                    over_65 += both;
                } else if band < 3 {
                    under_15 += both;
                }
            }
        }
        let total = (male + female) as f64;
        assert!((0.48..0.52).contains(&(female as f64 / total)));
        assert!((0.13..0.24).contains(&(over_65 as f64 / total)));
        assert!((0.13..0.22).contains(&(under_15 as f64 / total)));
    }

    #[test]
    fn lists_evolve_slightly_month_to_month() {
        let world = World::generate(8, 0.05);
        let earlier = add_months(AS_OF, -1);
        let mut changed = 0;
        for (i, p) in world.practices.iter().enumerate() {
            if !(p.is_open_on(earlier) && p.is_open_on(AS_OF)) {
                continue;
            }
            let before = world.practice_registrations(i, earlier).unwrap().total() as f64;
            let now = world.practice_registrations(i, AS_OF).unwrap().total() as f64;
            if before != now {
                changed += 1;
            }
            if p.open_date < add_months(AS_OF, -24) && p.close_date.is_none() {
                assert!(
                    (now / before - 1.0).abs() < 0.05,
                    "{}: {before} -> {now}",
                    p.code
                );
            }
        }
        assert!(changed > 0);
        assert_eq!(
            world.registrations(AS_OF),
            world.registrations(ymd(2025, 10, 17))
        );
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(World::generate(77, 0.2), World::generate(77, 0.2));
        assert_ne!(
            World::generate(77, 0.2).practices,
            World::generate(78, 0.2).practices
        );
    }

    #[test]
    fn small_scales_stay_valid() {
        for scale in [0.0001, 0.001, 0.01, 0.1] {
            let world = World::generate(3, scale);
            assert_valid(&world);
            assert_eq!(world.regions.len(), 7);
            assert!(world.icbs.len() >= 7 && world.sub_icbs.len() >= world.icbs.len());
        }
        let world = World::generate(3, 0.01);
        assert_eq!(world.icbs.len(), 7);
        assert!((55..=70).contains(&world.practices.len()));
        assert!((10..=20).contains(&world.pcns.len()));
    }

    #[test]
    fn apportion_respects_minimums_and_caps() {
        assert_eq!(apportion(10, &[1.0, 1.0], &[0, 0], &[9, 9]), vec![5, 5]);
        assert_eq!(apportion(10, &[3.0, 1.0], &[1, 1], &[6, 9]), vec![6, 4]);
        assert_eq!(
            apportion(1, &[1.0, 1.0, 1.0], &[1, 1, 1], &[1, 1, 1]),
            vec![1, 1, 1]
        );
        assert_eq!(apportion(5, &[1.0, 0.0], &[0, 0], &[2, 9]), vec![2, 0]);
    }
}
