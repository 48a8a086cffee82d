//! Whether the CUDA driver can be used: asked before burn's CUDA backend is chosen, since
//! that backend panics without a GPU.

use cudarc::driver::{result, sys};

/// Whether the CUDA driver reports a GPU, or why none can be used.
pub fn gpu() -> Result<(), String> {
    // SAFETY: only tries to open the driver library (libcuda), without calling into it.
    if !unsafe { sys::is_culib_present() } {
        return Err("no CUDA driver library (libcuda) was found".into());
    }
    result::init().map_err(|e| format!("the CUDA driver did not start ({e})"))?;
    match result::device::get_count() {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => Err("the CUDA driver reports no GPU".into()),
        Err(e) => Err(format!("the CUDA driver cannot count its GPUs ({e})")),
    }
}
