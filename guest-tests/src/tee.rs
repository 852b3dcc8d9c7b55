//! tee(2): duplicating pipe contents without consuming them.

use rustix::pipe::{SpliceFlags, pipe, tee};

use crate::framework::{Ctx, OrOutcome, Test, TestResult};
use crate::util::{pattern, read_up_to, write_all};
use crate::{check, check_eq};

pub const TESTS: &[Test] = &[Test {
    id: "tee.duplicate_content",
    tags: &["tee", "smoke"],
    about: "tee copies 3000 bytes into a second pipe; both pipes then yield the same bytes",
    see: "",
    run: duplicate_content,
}];

fn duplicate_content(ctx: &mut Ctx) -> TestResult {
    let data = pattern(3000, 0x33);
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    write_all(&w1, &data).or_error("fill first pipe")?;
    let n = tee(&r1, &w2, data.len(), SpliceFlags::empty()).or_fail("tee")?;
    check_eq!(n, data.len(), "tee byte count");
    drop(w1);
    drop(w2);
    let a = read_up_to(&r1, data.len() + 1).or_fail("read source pipe")?;
    let b = read_up_to(&r2, data.len() + 1).or_fail("read tee'd pipe")?;
    check!(
        a == data,
        "source pipe lost or changed data after tee ({} bytes left)",
        a.len()
    );
    check!(
        b == data,
        "tee'd pipe holds different data ({} bytes)",
        b.len()
    );
    ctx.observe("bytes", n);
    Ok(())
}
