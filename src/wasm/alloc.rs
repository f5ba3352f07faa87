//! The global allocator: the standard one (dlmalloc), with the wasm memory
//! grown in steps of an eighth of its size instead of the few pages each
//! allocation needs.
//!
//! Every `memory.grow` of a large memory costs the host a full garbage
//! collection: V8 accounts the grown buffer as new external memory, and when
//! that passes its limit it marks and compacts the whole JS heap. dlmalloc
//! grows by what one request needs (64 KiB pages), so filling a manager with
//! a million executions grew the memory thousands of times and spent about
//! half its time in back-to-back mark-compacts. After dlmalloc grew the
//! memory, this allocator asks it for one more block of an eighth of the
//! memory's size and frees it at once: the block joins dlmalloc's top chunk,
//! which later requests are carved from. Above 8 MiB the memory then grows
//! by at least an eighth at a time (twice per step: the request's own pages,
//! then the eighth), about 75 grows on its way to 700 MiB instead of
//! thousands; filling a million executions ran 11 mark-compacts instead of
//! 146. Below 8 MiB it grows by what is asked. The cost is at most an eighth of the
//! memory unused, and nothing when the block cannot be had (near the 4 GiB
//! limit the request fails, and the allocation that grew the memory has
//! already succeeded).

use core::arch::wasm32;
use std::alloc::{GlobalAlloc, Layout, System};

/// A 64 KiB wasm page.
const PAGE: usize = 65536;
/// Below this size, the memory grows by what is asked, as before.
const MIN_STEP: usize = 1 << 20;

/// dlmalloc, with the memory grown geometrically.
pub struct Allocator;

impl Allocator {
    /// After an allocation that grew the memory from `before` pages: grows
    /// it by an eighth more, through dlmalloc, and gives that back to it.
    ///
    /// # Safety
    /// Called from the allocator only.
    unsafe fn after(before: usize) {
        let now = wasm32::memory_size(0);
        if now == before {
            return;
        }
        let step = now.saturating_mul(PAGE) / 8;
        if step < MIN_STEP {
            return;
        }
        let Ok(layout) = Layout::from_size_align(step, 16) else {
            return;
        };
        // SAFETY: a layout of non-zero size, freed with the same layout.
        unsafe {
            let block = System.alloc(layout);
            if !block.is_null() {
                System.dealloc(block, layout);
            }
        }
    }
}

// SAFETY: every call is forwarded to `System` unchanged; `after` only
// allocates and frees a block of its own through `System`.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let before = wasm32::memory_size(0);
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        // SAFETY: called from the allocator.
        unsafe { Allocator::after(before) };
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let before = wasm32::memory_size(0);
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        // SAFETY: called from the allocator.
        unsafe { Allocator::after(before) };
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let before = wasm32::memory_size(0);
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        // SAFETY: called from the allocator.
        unsafe { Allocator::after(before) };
        p
    }
}

#[global_allocator]
static ALLOCATOR: Allocator = Allocator;
