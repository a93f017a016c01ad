//! Where the parser puts AST nodes. The parser is generic over [`Backend`]:
//!
//! - [`MorphContext`]: each node gets a header tagged with its [`NodeKind`]
//!   and goes to the slab pool of its size class (the default);
//! - [`bumpalo::Bump`]: plain bump allocation, the usual arena of Rust
//!   compilers;
//! - [`HeapBackend`]: one system allocation per node, what a `Box`-based AST
//!   pays.
//!
//! All three give byte-identical AST dumps.

use crate::ast::NodeKind;
use morph_runtime::{Error, MorphContext, TypeTag};
use std::alloc::Layout;
use std::cell::RefCell;
use std::ptr::NonNull;

/// An allocator for AST nodes. Nodes are `Copy` (they own nothing), so a
/// backend never needs to run `Drop`.
pub trait Backend {
    /// Places `value` and returns a reference that lives as long as the
    /// backend borrow.
    fn place<T: Copy>(&self, value: T, kind: NodeKind) -> Result<&T, Error>;

    /// Copies `items` into the backend (an empty slice allocates nothing).
    fn place_slice<T: Copy>(&self, items: &[T]) -> Result<&[T], Error>;

    /// A short name for reports: `morph`, `bumpalo`, `heap`.
    fn name(&self) -> &'static str;
}

impl Backend for MorphContext {
    #[inline]
    fn place<T: Copy>(&self, value: T, kind: NodeKind) -> Result<&T, Error> {
        self.try_alloc_tagged(value, TypeTag(kind as u16))
            .map(|r| &*r)
    }

    fn place_slice<T: Copy>(&self, items: &[T]) -> Result<&[T], Error> {
        if items.is_empty() {
            return Ok(&[]);
        }
        let layout = Layout::array::<T>(items.len()).map_err(|_| Error::InvalidLayout {
            size: usize::MAX,
            align: std::mem::align_of::<T>(),
        })?;
        let p = self
            .try_alloc_layout(layout, TypeTag(NodeKind::List as u16))?
            .cast::<T>();
        // SAFETY: `p` is fresh memory for `items.len()` values of `T`, which
        // is `Copy`; it lives as long as the context.
        unsafe {
            std::ptr::copy_nonoverlapping(items.as_ptr(), p.as_ptr(), items.len());
            Ok(std::slice::from_raw_parts(p.as_ptr(), items.len()))
        }
    }

    fn name(&self) -> &'static str {
        "morph"
    }
}

impl Backend for bumpalo::Bump {
    #[inline]
    fn place<T: Copy>(&self, value: T, _kind: NodeKind) -> Result<&T, Error> {
        self.try_alloc(value)
            .map(|r| &*r)
            .map_err(|_| Error::OutOfMemory {
                requested: std::mem::size_of::<T>(),
            })
    }

    fn place_slice<T: Copy>(&self, items: &[T]) -> Result<&[T], Error> {
        if items.is_empty() {
            return Ok(&[]);
        }
        self.try_alloc_slice_copy(items)
            .map(|r| &*r)
            .map_err(|_| Error::OutOfMemory {
                requested: std::mem::size_of_val(items),
            })
    }

    fn name(&self) -> &'static str {
        "bumpalo"
    }
}

/// One system allocation per node, all freed when the backend is dropped:
/// the cost of a `Box`-based AST. (It keeps a list of its allocations to free
/// them; that list's own memory is part of what it costs.)
///
/// ```
/// use lexer_demo::ast::NodeKind;
/// use lexer_demo::backend::{Backend, HeapBackend};
/// let heap = HeapBackend::new();
/// let x = heap.place(2.5f64, NodeKind::Literal).unwrap();
/// assert_eq!(*x, 2.5);
/// assert_eq!(heap.allocations(), 1);
/// ```
#[derive(Default)]
pub struct HeapBackend {
    blocks: RefCell<Vec<(NonNull<u8>, Layout)>>,
}

impl HeapBackend {
    /// An empty backend.
    ///
    /// ```
    /// assert_eq!(lexer_demo::backend::HeapBackend::new().allocations(), 0);
    /// ```
    pub fn new() -> HeapBackend {
        HeapBackend::default()
    }

    /// How many system allocations it holds.
    ///
    /// ```
    /// use lexer_demo::{ast::NodeKind, backend::{Backend, HeapBackend}};
    /// let heap = HeapBackend::new();
    /// heap.place(1u64, NodeKind::Literal).unwrap();
    /// assert_eq!(heap.allocations(), 1);
    /// ```
    pub fn allocations(&self) -> usize {
        self.blocks.borrow().len()
    }

    fn raw(&self, layout: Layout) -> Result<NonNull<u8>, Error> {
        debug_assert!(layout.size() > 0);
        // SAFETY: callers never pass a zero-sized layout (nodes are not ZSTs
        // and empty slices are not allocated).
        let p = unsafe { std::alloc::alloc(layout) };
        let p = NonNull::new(p).ok_or(Error::OutOfMemory {
            requested: layout.size(),
        })?;
        self.blocks.borrow_mut().push((p, layout));
        Ok(p)
    }
}

impl Backend for HeapBackend {
    fn place<T: Copy>(&self, value: T, _kind: NodeKind) -> Result<&T, Error> {
        const { assert!(std::mem::size_of::<T>() > 0) };
        let p = self.raw(Layout::new::<T>())?.cast::<T>();
        // SAFETY: fresh memory sized and aligned for `T`, freed only when the
        // backend is dropped, which the returned borrow prevents.
        unsafe {
            p.as_ptr().write(value);
            Ok(&*p.as_ptr())
        }
    }

    fn place_slice<T: Copy>(&self, items: &[T]) -> Result<&[T], Error> {
        if items.is_empty() || std::mem::size_of::<T>() == 0 {
            return Ok(&[]);
        }
        let layout = Layout::array::<T>(items.len()).map_err(|_| Error::InvalidLayout {
            size: usize::MAX,
            align: std::mem::align_of::<T>(),
        })?;
        let p = self.raw(layout)?.cast::<T>();
        // SAFETY: fresh memory for `items.len()` values of the `Copy` type
        // `T`, kept until the backend drops.
        unsafe {
            std::ptr::copy_nonoverlapping(items.as_ptr(), p.as_ptr(), items.len());
            Ok(std::slice::from_raw_parts(p.as_ptr(), items.len()))
        }
    }

    fn name(&self) -> &'static str {
        "heap"
    }
}

impl Drop for HeapBackend {
    fn drop(&mut self) {
        for (p, layout) in self.blocks.get_mut().drain(..) {
            // SAFETY: allocated in `raw` with this layout; no borrow of the
            // backend (and so of the node) outlives it.
            unsafe { std::alloc::dealloc(p.as_ptr(), layout) };
        }
    }
}
