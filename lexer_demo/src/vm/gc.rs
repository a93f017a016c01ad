//! The collector: mark from the roots with the header's mark bit, trace by
//! the header's type tag, drop unmarked strings from the (weak) intern
//! table, and sweep through the heap's own walk.

use super::machine::Vm;
use super::object::{
    CLOSED, Entry, ObjBound, ObjClass, ObjClosure, ObjInstance, ObjTable, ObjUpvalue,
};
use super::value::Value;
use super::{Kind, ObjHeap, THRESHOLD_FLOOR};
use std::ptr::NonNull;

impl<H: ObjHeap> Vm<'_, H> {
    /// Records the peaks reached so far.
    pub(super) fn note_peaks(&mut self) {
        let live = self.stats.bytes_allocated - self.stats.bytes_freed;
        self.stats.peak_live_bytes = self.stats.peak_live_bytes.max(live);
        self.stats.peak_live_objects = self.stats.peak_live_objects.max(self.live_objects);
        self.stats.objects_allocated = self.stats.by_kind.iter().sum();
    }

    fn mark_ptr(&mut self, p: *const u8) {
        let Some(p) = NonNull::new(p.cast_mut()) else {
            return;
        };
        // SAFETY: `p` is reachable from a root, so it is a live object of
        // this heap.
        unsafe {
            if !self.heap.is_marked(p) {
                self.heap.set_mark(p, true);
                self.gray.push(p);
            }
        }
    }

    fn mark_value(&mut self, v: Value) {
        if let Some(p) = v.as_object() {
            self.mark_ptr(p);
        }
    }

    /// Collects: everything no root reaches is freed. `self.sp` must be the
    /// stack's top.
    pub(super) fn collect(&mut self) {
        self.stats.collections += 1;
        self.note_peaks();
        // Roots: the stack, the frames' closures, open upvalues, globals
        // and their names, the functions' constants and names.
        for i in 0..self.depth() {
            // SAFETY: slots below the top are initialised values.
            let v = unsafe { *self.stack.add(i) };
            self.mark_value(v);
        }
        for i in 0..self.frames.len() {
            self.mark_ptr(self.frames[i].closure.cast());
        }
        let mut u = self.open;
        while !u.is_null() {
            self.mark_ptr(u.cast_const().cast());
            // SAFETY: open upvalues are live.
            u = unsafe { (*u).next };
        }
        for i in 0..self.globals.len() {
            self.mark_value(self.globals[i]);
            self.mark_ptr(self.global_names[i].cast());
        }
        for i in 0..self.protos.len() {
            self.mark_ptr(self.protos[i].name.cast());
            for k in 0..self.protos[i].chunk.constants.len() {
                self.mark_value(self.protos[i].chunk.constants[k]);
            }
        }
        self.mark_ptr(self.init.cast());
        while let Some(p) = self.gray.pop() {
            self.trace(p);
        }
        // The string table is weak: unmarked strings leave it.
        let heap = &self.heap;
        // SAFETY: every string in the table is live until the sweep below,
        // and never null.
        self.strings
            .retain(|p| unsafe { heap.is_marked(NonNull::new_unchecked(p.cast_mut().cast())) });
        self.heap.plan(usize::MAX);
        // SAFETY: an unmarked object is unreachable from every root, and
        // the VM reaches objects only through roots.
        let swept = unsafe { self.heap.sweep() };
        self.live_objects -= swept.objects;
        self.stats.objects_freed += swept.objects;
        self.stats.bytes_freed += swept.bytes;
        self.since_gc = 0;
        let live = self.stats.bytes_allocated - self.stats.bytes_freed;
        let live = usize::try_from(live).unwrap_or(usize::MAX);
        self.threshold = THRESHOLD_FLOOR.max(live);
        self.heap
            .plan(self.threshold.saturating_add(self.threshold / 4));
    }

    fn trace(&mut self, p: NonNull<u8>) {
        // SAFETY: `p` is a marked, live object; its kind (the header's tag,
        // written at allocation) says its layout.
        unsafe {
            match self.heap.kind(p) {
                Kind::Str | Kind::Native => {}
                Kind::Closure => {
                    let c = p.cast::<ObjClosure>().as_ptr();
                    let ups = ObjClosure::upvalues(c);
                    for i in 0..(*c).count {
                        self.mark_ptr((*ups.add(i)).cast_const().cast());
                    }
                }
                Kind::Upvalue => {
                    let u = p.cast::<ObjUpvalue>().as_ptr();
                    if (*u).slot == CLOSED {
                        self.mark_value((*u).closed);
                    }
                }
                Kind::Class => {
                    let c = p.cast::<ObjClass>().as_ptr();
                    self.mark_ptr((*c).name.cast());
                    self.mark_ptr((*c).methods.cast_const().cast());
                }
                Kind::Instance => {
                    let i = p.cast::<ObjInstance>().as_ptr();
                    self.mark_ptr((*i).class.cast());
                    self.mark_ptr((*i).fields.cast_const().cast());
                }
                Kind::Table => {
                    let t = p.cast::<ObjTable>().as_ptr();
                    let e = ObjTable::entries(t);
                    for k in 0..(*t).cap as usize {
                        let Entry { key, value } = *e.add(k);
                        if !key.is_null() {
                            self.mark_ptr(key.cast());
                            self.mark_value(value);
                        }
                    }
                }
                Kind::Bound => {
                    let b = p.cast::<ObjBound>().as_ptr();
                    self.mark_value((*b).receiver);
                    self.mark_ptr((*b).method.cast());
                }
            }
        }
    }
}
