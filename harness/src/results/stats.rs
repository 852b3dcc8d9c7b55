//! Statistics for perf comparisons: medians and spreads per metric, and
//! between two sample sets a relative change with a bootstrap confidence
//! interval and a Mann-Whitney U test.

/// Median of `v` (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Median absolute deviation.
pub fn mad(v: &[f64]) -> f64 {
    let m = median(v);
    median(&v.iter().map(|x| (x - m).abs()).collect::<Vec<_>>())
}

/// A small deterministic generator (xorshift64*): the same inputs give the
/// same interval on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn index(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bootstrap 95% interval of the relative change of medians, (b - a) / a.
pub fn bootstrap_rel_change_ci(a: &[f64], b: &[f64], iters: usize) -> (f64, f64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut changes: Vec<f64> = (0..iters)
        .map(|_| {
            let ra: Vec<f64> = (0..a.len()).map(|_| a[rng.index(a.len())]).collect();
            let rb: Vec<f64> = (0..b.len()).map(|_| b[rng.index(b.len())]).collect();
            let ma = median(&ra);
            (median(&rb) - ma) / ma
        })
        .filter(|x| x.is_finite())
        .collect();
    changes.sort_by(f64::total_cmp);
    if changes.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| changes[((changes.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

/// Two-sided p-value of the Mann-Whitney U test (normal approximation with
/// tie correction).
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|&x| (x, 0))
        .chain(b.iter().map(|&x| (x, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut ranks = vec![0.0; all.len()];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for rank in ranks.iter_mut().take(j + 1).skip(i) {
            *rank = r;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| x.1 == 0)
        .map(|(_, r)| r)
        .sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let n = n1 + n2;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u1 - mu).abs() - 0.5).max(0.0) / var.sqrt();
    (2.0 * (1.0 - normal_cdf(z))).clamp(0.0, 1.0)
}

/// Standard normal CDF (Abramowitz-Stegun 7.1.26 erf approximation).
fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    let erf = if x >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0]), 1.0);
    }

    #[test]
    fn identical_samples_show_no_change() {
        let a = [10.0, 10.1, 9.9, 10.0, 10.05];
        let (lo, hi) = bootstrap_rel_change_ci(&a, &a, 2000);
        assert!(lo <= 0.0 && hi >= 0.0, "{lo} {hi}");
        assert!(mann_whitney_p(&a, &a) > 0.5);
    }

    #[test]
    fn a_clear_shift_is_significant_with_the_right_sign() {
        let a = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8, 100.1];
        let b: Vec<f64> = a.iter().map(|x| x * 0.8).collect();
        let (lo, hi) = bootstrap_rel_change_ci(&a, &b, 2000);
        assert!(hi < 0.0 && lo > -0.25, "{lo} {hi}");
        assert!(mann_whitney_p(&a, &b) < 0.01);
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-6);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-3);
    }
}
