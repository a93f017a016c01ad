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

use crate::ast::{NodeKind, NodeTally};
use morph_runtime::{Error, MorphContext, TypeTag};
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

/// Where AST nodes go: the one backend choice of the whole command line
/// (`run` takes `morph` and `heap`, its objects' two homes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// A MorphContext: headers, size-class pools (the default).
    Morph,
    /// A MorphContext sending everything to its arena.
    MorphArena,
    /// A bumpalo arena.
    Bumpalo,
    /// One system allocation per node (per object, for `run`).
    Heap,
}

impl BackendKind {
    /// Every backend, in report order.
    pub const ALL: [BackendKind; 4] = [
        BackendKind::Morph,
        BackendKind::MorphArena,
        BackendKind::Bumpalo,
        BackendKind::Heap,
    ];

    /// Its name on the command line and in reports.
    ///
    /// ```
    /// assert_eq!(lexer_demo::backend::BackendKind::MorphArena.name(), "morph-arena");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Morph => "morph",
            BackendKind::MorphArena => "morph-arena",
            BackendKind::Bumpalo => "bumpalo",
            BackendKind::Heap => "heap",
        }
    }
}

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

/// A backend that counts what it places, by node kind, and hands the work
/// to another: the footprint report's node figures, the same for every
/// backend, without the parser keeping any.
///
/// ```
/// use lexer_demo::ast::NodeKind;
/// use lexer_demo::backend::{Backend, Tally};
/// let bump = bumpalo::Bump::new();
/// let ast = Tally::new(&bump);
/// ast.place(1.5f64, NodeKind::Literal).unwrap();
/// ast.place_slice(&[1u32, 2, 3]).unwrap();
/// let t = ast.tally();
/// assert_eq!((t.count(NodeKind::Literal), t.bytes(NodeKind::List)), (1, 12));
/// ```
pub struct Tally<'b, B: Backend> {
    inner: &'b B,
    tally: Cell<NodeTally>,
}

impl<'b, B: Backend> Tally<'b, B> {
    /// Counts what goes into `inner`.
    ///
    /// ```
    /// let heap = lexer_demo::backend::HeapBackend::new();
    /// let t = lexer_demo::backend::Tally::new(&heap);
    /// assert_eq!(t.tally().total_nodes(), 0);
    /// ```
    pub fn new(inner: &'b B) -> Tally<'b, B> {
        Tally {
            inner,
            tally: Cell::new(NodeTally::default()),
        }
    }

    /// What was placed so far.
    ///
    /// ```
    /// use lexer_demo::{ast::NodeKind, backend::{Backend, Tally}};
    /// let ctx = morph_runtime::MorphContext::new();
    /// let t = Tally::new(&ctx);
    /// t.place(1u64, NodeKind::Literal).unwrap();
    /// assert_eq!(t.tally().total_bytes(), 8);
    /// ```
    pub fn tally(&self) -> NodeTally {
        self.tally.get()
    }

    fn add(&self, kind: NodeKind, bytes: usize) {
        let mut t = self.tally.get();
        t.add(kind, bytes);
        self.tally.set(t);
    }
}

impl<B: Backend> Backend for Tally<'_, B> {
    #[inline]
    fn place<T: Copy>(&self, value: T, kind: NodeKind) -> Result<&T, Error> {
        let r = self.inner.place(value, kind)?;
        self.add(kind, std::mem::size_of::<T>());
        Ok(r)
    }

    fn place_slice<T: Copy>(&self, items: &[T]) -> Result<&[T], Error> {
        let r = self.inner.place_slice(items)?;
        if !items.is_empty() {
            self.add(NodeKind::List, std::mem::size_of_val(items));
        }
        Ok(r)
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}
