//! The AST. Nodes are `Copy` values placed in an allocation
//! [`Backend`](crate::backend::Backend); children are references into the backend's
//! memory, and names and string literals are slices of the source, never
//! copies. No node needs `Drop`, so an arena that never drops is enough.
//!
//! Every variable use (`Variable`, `Assign`, `This`, `Super`) carries a
//! [`UseId`]: the resolver records, per id, how many scopes out its binding
//! is.

use crate::token::TokenKind;

/// Identifies one variable use, for the resolver's side table.
pub type UseId = u32;

/// A name in the source: a slice of it. Its byte offset (for line numbers)
/// is recovered from the slice's address rather than stored, which keeps
/// every expression within 40 bytes.
///
/// ```
/// use lexer_demo::ast::Ident;
/// let src = "var answer;";
/// let id = Ident { name: &src[4..10] };
/// assert_eq!((id.name, id.offset_in(src)), ("answer", 4));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ident<'a> {
    /// The name, a slice of the source.
    pub name: &'a str,
}

impl Ident<'_> {
    /// Byte offset of the name in `source`, which it must be a slice of.
    /// Offsets are 32-bit, as in tokens: the front end refuses a source
    /// longer than [`crate::lexer::MAX_SOURCE`], so every name it makes has
    /// one; an offset past `u32::MAX` (a name in a longer text) saturates.
    ///
    /// ```
    /// let src = "print x;";
    /// assert_eq!(lexer_demo::ast::Ident { name: &src[6..7] }.offset_in(src), 6);
    /// ```
    pub fn offset_in(&self, source: &str) -> u32 {
        let offset = (self.name.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
        debug_assert!(
            offset <= source.len(),
            "the name is not a slice of this source"
        );
        u32::try_from(offset).unwrap_or(u32::MAX)
    }
}

/// An operator token: its kind and where it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Op {
    /// The operator.
    pub kind: TokenKind,
    /// Byte offset in the source.
    pub offset: u32,
}

/// A literal value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Literal<'a> {
    /// A number.
    Number(f64),
    /// A string's contents (without the quotes), a slice of the source.
    Str(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `nil`.
    Nil,
}

/// An expression.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expr<'a> {
    /// `left op right` for arithmetic, comparison and equality.
    Binary {
        /// Left operand.
        left: &'a Expr<'a>,
        /// Operator.
        op: Op,
        /// Right operand.
        right: &'a Expr<'a>,
    },
    /// `left and right`, `left or right`.
    Logical {
        /// Left operand.
        left: &'a Expr<'a>,
        /// `And` or `Or`.
        op: Op,
        /// Right operand.
        right: &'a Expr<'a>,
    },
    /// `op right` (`-` or `!`).
    Unary {
        /// Operator.
        op: Op,
        /// Operand.
        right: &'a Expr<'a>,
    },
    /// `( inner )`.
    Grouping(&'a Expr<'a>),
    /// A literal.
    Literal(Literal<'a>),
    /// A variable read.
    Variable {
        /// The name.
        name: Ident<'a>,
        /// Resolver key.
        id: UseId,
    },
    /// `name = value`.
    Assign {
        /// The variable.
        name: Ident<'a>,
        /// The new value.
        value: &'a Expr<'a>,
        /// Resolver key.
        id: UseId,
    },
    /// `callee(args)`.
    Call {
        /// What is called.
        callee: &'a Expr<'a>,
        /// The arguments.
        args: &'a [&'a Expr<'a>],
        /// Offset of the closing parenthesis (runtime errors report its line).
        paren: u32,
    },
    /// `object.name`.
    Get {
        /// The instance.
        object: &'a Expr<'a>,
        /// The property.
        name: Ident<'a>,
    },
    /// `object.name = value`.
    Set {
        /// The instance.
        object: &'a Expr<'a>,
        /// The property.
        name: Ident<'a>,
        /// The new value.
        value: &'a Expr<'a>,
    },
    /// `this`.
    This {
        /// Offset of the keyword.
        offset: u32,
        /// Resolver key.
        id: UseId,
    },
    /// `super.method`.
    Super {
        /// Offset of the keyword.
        offset: u32,
        /// The method.
        method: Ident<'a>,
        /// Resolver key.
        id: UseId,
    },
}

/// A function or method declaration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Function<'a> {
    /// Its name.
    pub name: Ident<'a>,
    /// Parameter names.
    pub params: &'a [Ident<'a>],
    /// Body statements.
    pub body: &'a [Stmt<'a>],
}

/// A statement. `for` loops are desugared into blocks and `while` loops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stmt<'a> {
    /// An expression evaluated for its effect.
    Expression(&'a Expr<'a>),
    /// `print value;`
    Print(&'a Expr<'a>),
    /// `var name = init;`
    Var {
        /// The variable.
        name: Ident<'a>,
        /// Its initialiser.
        init: Option<&'a Expr<'a>>,
    },
    /// `{ ... }`
    Block {
        /// The statements.
        body: &'a [Stmt<'a>],
        /// How many declarations `body` holds directly
        /// ([`declarations`]): 0 means the block opens no scope.
        decls: u32,
    },
    /// `if (cond) then else otherwise`
    If {
        /// Condition.
        cond: &'a Expr<'a>,
        /// Then branch.
        then: &'a Stmt<'a>,
        /// Else branch.
        otherwise: Option<&'a Stmt<'a>>,
    },
    /// `while (cond) body`
    While {
        /// Condition.
        cond: &'a Expr<'a>,
        /// Body.
        body: &'a Stmt<'a>,
    },
    /// `fun name(params) { body }`
    Function(&'a Function<'a>),
    /// `return value;`
    Return {
        /// Offset of the keyword.
        offset: u32,
        /// The value, if any.
        value: Option<&'a Expr<'a>>,
    },
    /// `class Name < Super { methods }` (behind a reference, so that `Stmt`,
    /// which fills every statement list, stays at 32 bytes).
    Class(&'a Class<'a>),
}

impl<'a> Stmt<'a> {
    /// A block of `body`, its declarations counted.
    ///
    /// ```
    /// use lexer_demo::ast::{Stmt, Literal, Expr};
    /// let e = Expr::Literal(Literal::Nil);
    /// let body = [Stmt::Print(&e)];
    /// assert!(matches!(Stmt::block(&body), Stmt::Block { decls: 0, .. }));
    /// ```
    pub fn block(body: &'a [Stmt<'a>]) -> Stmt<'a> {
        Stmt::Block {
            body,
            decls: declarations(body),
        }
    }
}

/// Whether a statement list declares anything directly, i.e. whether a block
/// of it opens a scope, and how many slots that scope needs. Blocks that
/// declare nothing share their enclosing scope and open none in the
/// resolver; the parser counts once per block ([`Stmt::block`]).
///
/// The count saturates at `u32::MAX`, the most variables a scope can hold
/// (the resolver reports a scope that would hold more, so such a program
/// never runs; a source under 4 GiB cannot have one anyway).
///
/// ```
/// use lexer_demo::ast::declarations;
/// let ctx = morph_runtime::MorphContext::new();
/// let p = lexer_demo::parser::parse("var a; fun f() {} print a;", &ctx, &ctx).unwrap();
/// assert_eq!(declarations(p.program.statements), 2);
/// ```
pub fn declarations(list: &[Stmt<'_>]) -> u32 {
    let n = list
        .iter()
        .filter(|s| matches!(s, Stmt::Var { .. } | Stmt::Function(_) | Stmt::Class(_)))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A class declaration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Class<'a> {
    /// The class name.
    pub name: Ident<'a>,
    /// The superclass, a `Variable` expression.
    pub superclass: Option<&'a Expr<'a>>,
    /// The methods.
    pub methods: &'a [&'a Function<'a>],
}

const _: () = assert!(std::mem::size_of::<Expr<'static>>() == 40);
const _: () = assert!(std::mem::size_of::<Stmt<'static>>() == 32);

/// The kinds of node, for allocation statistics: each is the type tag of
/// the node's header when the backend is a `MorphContext`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum NodeKind {
    /// Tokens (the lexer's, not AST nodes).
    Token = 1,
    /// `Expr::Binary`
    Binary,
    /// `Expr::Logical`
    Logical,
    /// `Expr::Unary`
    Unary,
    /// `Expr::Grouping`
    Grouping,
    /// `Expr::Literal`
    Literal,
    /// `Expr::Variable`
    Variable,
    /// `Expr::Assign`
    Assign,
    /// `Expr::Call`
    Call,
    /// `Expr::Get`
    Get,
    /// `Expr::Set`
    Set,
    /// `Expr::This`
    This,
    /// `Expr::Super`
    Super,
    /// A `Stmt` placed on its own (branches and loop bodies).
    Stmt,
    /// A `Function`.
    Function,
    /// A slice: statement lists, arguments, parameters, methods.
    List,
    /// A `Class`.
    Class,
}

impl NodeKind {
    /// Every kind, in tag order.
    pub const ALL: [NodeKind; 17] = [
        NodeKind::Token,
        NodeKind::Binary,
        NodeKind::Logical,
        NodeKind::Unary,
        NodeKind::Grouping,
        NodeKind::Literal,
        NodeKind::Variable,
        NodeKind::Assign,
        NodeKind::Call,
        NodeKind::Get,
        NodeKind::Set,
        NodeKind::This,
        NodeKind::Super,
        NodeKind::Stmt,
        NodeKind::Function,
        NodeKind::List,
        NodeKind::Class,
    ];

    /// The kind with type tag `tag`, if any.
    ///
    /// ```
    /// use lexer_demo::ast::NodeKind;
    /// assert_eq!(NodeKind::from_tag(NodeKind::Call as u16), Some(NodeKind::Call));
    /// assert_eq!(NodeKind::from_tag(0), None);
    /// ```
    pub fn from_tag(tag: u16) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|k| *k as u16 == tag)
    }

    /// Its name in reports.
    ///
    /// ```
    /// use lexer_demo::ast::NodeKind;
    /// assert_eq!(NodeKind::Binary.name(), "binary");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Token => "token",
            NodeKind::Binary => "binary",
            NodeKind::Logical => "logical",
            NodeKind::Unary => "unary",
            NodeKind::Grouping => "grouping",
            NodeKind::Literal => "literal",
            NodeKind::Variable => "variable",
            NodeKind::Assign => "assign",
            NodeKind::Call => "call",
            NodeKind::Get => "get",
            NodeKind::Set => "set",
            NodeKind::This => "this",
            NodeKind::Super => "super",
            NodeKind::Stmt => "stmt",
            NodeKind::Function => "function",
            NodeKind::List => "list",
            NodeKind::Class => "class",
        }
    }
}

/// How many nodes of each kind a parse placed, and their bytes; kept by
/// [`Tally`](crate::backend::Tally), the counting wrapper around a backend.
///
/// ```
/// use lexer_demo::ast::NodeKind;
/// use lexer_demo::backend::Tally;
/// use lexer_demo::parser::parse;
/// let ctx = morph_runtime::MorphContext::new();
/// let ast = Tally::new(&ctx);
/// parse("print 1 + 2;", &ast, &ctx).unwrap();
/// let nodes = ast.tally();
/// assert_eq!(nodes.count(NodeKind::Literal), 2);
/// assert_eq!(nodes.count(NodeKind::Binary), 1);
/// assert_eq!(nodes.total_nodes(), 4); // and the statement list
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeTally {
    counts: [u64; NodeKind::ALL.len() + 1],
    bytes: [u64; NodeKind::ALL.len() + 1],
}

impl NodeTally {
    /// Records one node of `kind` of `bytes` bytes.
    ///
    /// ```
    /// use lexer_demo::ast::{NodeKind, NodeTally};
    /// let mut t = NodeTally::default();
    /// t.add(NodeKind::Literal, 40);
    /// t.add(NodeKind::Literal, 40);
    /// assert_eq!(t.count(NodeKind::Literal), 2);
    /// ```
    pub fn add(&mut self, kind: NodeKind, bytes: usize) {
        self.counts[kind as usize] += 1;
        self.bytes[kind as usize] += bytes as u64;
    }

    /// Nodes of `kind`.
    ///
    /// ```
    /// use lexer_demo::ast::{NodeKind, NodeTally};
    /// let mut t = NodeTally::default();
    /// t.add(NodeKind::Literal, 40);
    /// t.add(NodeKind::Literal, 40);
    /// assert_eq!(t.count(NodeKind::Binary), 0);
    /// ```
    pub fn count(&self, kind: NodeKind) -> u64 {
        self.counts[kind as usize]
    }

    /// Bytes of the nodes of `kind`.
    ///
    /// ```
    /// use lexer_demo::ast::{NodeKind, NodeTally};
    /// let mut t = NodeTally::default();
    /// t.add(NodeKind::Literal, 40);
    /// t.add(NodeKind::Literal, 40);
    /// assert_eq!(t.bytes(NodeKind::Literal), 80);
    /// ```
    pub fn bytes(&self, kind: NodeKind) -> u64 {
        self.bytes[kind as usize]
    }

    /// All nodes.
    ///
    /// ```
    /// use lexer_demo::ast::{NodeKind, NodeTally};
    /// let mut t = NodeTally::default();
    /// t.add(NodeKind::Literal, 40);
    /// t.add(NodeKind::Literal, 40);
    /// assert_eq!(t.total_nodes(), 2);
    /// ```
    pub fn total_nodes(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// All their bytes: the AST's payload, whatever the backend.
    ///
    /// ```
    /// use lexer_demo::ast::{NodeKind, NodeTally};
    /// let mut t = NodeTally::default();
    /// t.add(NodeKind::Literal, 40);
    /// t.add(NodeKind::Literal, 40);
    /// assert_eq!(t.total_bytes(), 80);
    /// ```
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

impl Expr<'_> {
    /// The node kind of this expression.
    ///
    /// ```
    /// use lexer_demo::ast::{Expr, Literal, NodeKind};
    /// assert_eq!(Expr::Literal(Literal::Nil).kind(), NodeKind::Literal);
    /// ```
    pub fn kind(&self) -> NodeKind {
        match self {
            Expr::Binary { .. } => NodeKind::Binary,
            Expr::Logical { .. } => NodeKind::Logical,
            Expr::Unary { .. } => NodeKind::Unary,
            Expr::Grouping(_) => NodeKind::Grouping,
            Expr::Literal(_) => NodeKind::Literal,
            Expr::Variable { .. } => NodeKind::Variable,
            Expr::Assign { .. } => NodeKind::Assign,
            Expr::Call { .. } => NodeKind::Call,
            Expr::Get { .. } => NodeKind::Get,
            Expr::Set { .. } => NodeKind::Set,
            Expr::This { .. } => NodeKind::This,
            Expr::Super { .. } => NodeKind::Super,
        }
    }
}

/// A parsed program: its top-level statements and the number of variable
/// uses (the size of the resolver's table).
#[derive(Clone, Copy, Debug)]
pub struct Program<'a> {
    /// Top-level statements.
    pub statements: &'a [Stmt<'a>],
    /// Number of [`UseId`]s handed out.
    pub uses: u32,
}
