//! How the scanner judges what a stream does: each import gets its [`Severity`] from
//! [`classify()`], each call the worst of its callee and arguments (with the argument
//! rules of [`super::args`] for safe-listed callees), `getattr` of a fixed attribute
//! the severity of that attribute, and `BUILD` what its state may plant or call. Not
//! for reading opcodes (see [`super::machine`]).

use alloc::rc::Rc;

use super::abs::{tuple, Abs};
use super::args::hostile_args;
use super::machine::Walker;
use super::{classify, Finding, Severity, Target};

impl Walker<'_> {
    pub(super) fn record_import(
        &mut self,
        opcode: &'static str,
        target: Target,
        sev: Severity,
        why: &'static str,
    ) {
        self.out.imports.push(Finding {
            offset: self.op,
            opcode,
            target,
            severity: sev,
            reason: why,
        });
    }

    /// Records the import of `module.name` (mapped to Python 3 names below protocol 3)
    /// and returns its stack value.
    pub(super) fn import(&mut self, opcode: &'static str, module: &str, name: &str) -> Abs {
        let (module, name) = if self.out.protocol < 3 {
            crate::compat::to_python3(module, name)
        } else {
            (module, name)
        };
        let (severity, why) = classify(module, name);
        self.record_import(
            opcode,
            Target::Global {
                module: module.into(),
                name: name.into(),
            },
            severity,
            why,
        );
        Abs::Global {
            module: Rc::from(module),
            name: Rc::from(name),
            severity,
            origin: Some(self.out.imports.len() - 1),
        }
    }

    /// Records a call of `callee` and returns what the stack holds afterwards.
    pub(super) fn call(
        &mut self,
        opcode: &'static str,
        callee: &Abs,
        args: Option<&Abs>,
        kwargs: Option<&Abs>,
    ) -> Abs {
        if kwargs.is_none() {
            if let Some(result) = self.static_getattr(opcode, callee, args) {
                return result;
            }
        }
        if let Abs::Global {
            module,
            name,
            severity: Severity::Safe,
            ..
        } = callee
        {
            if let Some(why) = hostile_args(module, name, args, kwargs) {
                self.out.calls.push(Finding {
                    offset: self.op,
                    opcode,
                    target: callee.target(),
                    severity: Severity::Unknown,
                    reason: why,
                });
                return Abs::Made(Severity::Unknown);
            }
            match (&**module, &**name) {
                ("builtins", "range") => {
                    self.record_safe_call(opcode, callee);
                    return Abs::Range;
                }
                ("uuid", "SafeUUID") => {
                    self.record_safe_call(opcode, callee);
                    return Abs::Singleton;
                }
                _ => {}
            }
        }
        // Keyword arguments count as arguments.
        let both;
        let args = match (args, kwargs) {
            (Some(a), Some(k)) => {
                both = tuple(alloc::vec![a.clone(), k.clone()]);
                Some(&both)
            }
            (a, _) => a,
        };
        let (severity, why) = match callee {
            Abs::Global { severity, .. } => (*severity, "calls an imported global"),
            Abs::Extension(_) => (Severity::Dangerous, "calls an extension registry entry"),
            // A computed callable is as bad as what went into computing it: a dangerous
            // global or a dynamic `getattr` taints it (CPython itself calls a
            // `functools.partial` of `cls.__new__` for `NEWOBJ_EX` below protocol 4).
            other => (
                other.severity().max(Severity::Unknown),
                "calls an object the stream built",
            ),
        };
        // Arguments that are themselves dangerous globals (`map(os.system, ...)`)
        // make the call as bad as they are.
        let arg_sev = args.map_or(Severity::Safe, Abs::severity);
        let (severity, why) = if arg_sev > severity {
            (arg_sev, "an argument is a global of this severity")
        } else {
            (severity, why)
        };
        self.out.calls.push(Finding {
            offset: self.op,
            opcode,
            target: callee.target(),
            severity,
            reason: why,
        });
        Abs::Made(severity)
    }

    /// Records a call of a safe-listed global with harmless arguments.
    pub(super) fn record_safe_call(&mut self, opcode: &'static str, callee: &Abs) {
        self.out.calls.push(Finding {
            offset: self.op,
            opcode,
            target: callee.target(),
            severity: Severity::Safe,
            reason: "calls an imported global",
        });
    }

    /// `getattr(module.name, "attr")` through `REDUCE`: judged as the global
    /// `module.name.attr`. Every other use of an imported `getattr` as a callable marks
    /// that import as dynamic, so it stays dangerous (see [`Walker::finish`]).
    pub(super) fn static_getattr(
        &mut self,
        opcode: &'static str,
        callee: &Abs,
        args: Option<&Abs>,
    ) -> Option<Abs> {
        let Abs::Global {
            module,
            name,
            origin,
            ..
        } = callee
        else {
            return None;
        };
        if &**module != "builtins" || &**name != "getattr" {
            return None;
        }
        let resolved = match (opcode, args) {
            ("REDUCE", Some(Abs::Tuple(items))) => match &items[..] {
                [Abs::Global { module, name, .. }, Abs::Str(attr)] => {
                    Some(self.attribute(module, name, attr))
                }
                _ => None,
            },
            _ => None,
        };
        let Some(resolved) = resolved else {
            if let Some(i) = origin {
                self.getattr_dynamic.push(*i);
            }
            return None;
        };
        let severity = resolved.severity();
        if let Some(i) = origin {
            self.getattr_static.push((*i, severity));
        }
        self.out.calls.push(Finding {
            offset: self.op,
            opcode,
            target: resolved.target(),
            severity,
            reason: "getattr of a named attribute of an imported global",
        });
        Some(resolved)
    }

    /// Judges each imported `getattr` by its uses: when every call of it named a fixed
    /// attribute of an imported global, it is as bad as the worst attribute reached
    /// (CPython writes such calls for nested classes below protocol 4). Any other use
    /// already taints whatever it reaches, and the import stays dangerous.
    pub(super) fn finish(&mut self) {
        for &(i, sev) in &self.getattr_static {
            if self.getattr_dynamic.contains(&i) {
                continue;
            }
            let worst = self
                .getattr_static
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|&(_, s)| s)
                .max()
                .unwrap_or(sev)
                .max(Severity::Unknown);
            if let Some(f) = self.out.imports.get_mut(i) {
                f.severity = worst;
                f.reason = "getattr of named attributes of imported globals only";
            }
        }
    }

    /// `getattr(module.name, attr)`: the global `module.name.attr`, judged on its own
    /// (`getattr(os, "system")` is `os.system`).
    pub(super) fn attribute(&mut self, module: &str, name: &str, attr: &str) -> Abs {
        let qual = alloc::format!("{name}.{attr}");
        let (severity, _) = classify(module, &qual);
        let (parent, _) = classify(module, name);
        let severity = severity.max(parent).max(Severity::Unknown);
        Abs::Global {
            module: Rc::from(module),
            name: Rc::from(qual.as_str()),
            severity,
            origin: None,
        }
    }

    /// `BUILD` on `target`: a call of its `__setstate__` or attribute updates, unless the
    /// target is a plain value (where `pickle` fails).
    pub(super) fn build(&mut self, target: &Abs, state_value: &Abs) -> Abs {
        let state = state_value.severity();
        let (severity, why) = match target {
            // A global planted in an object's `__dict__` is what `pickle` calls for a
            // later `BUILD` (`__setstate__`) or `APPENDS` (`extend`), with arguments
            // no constructor rule sees.
            _ if state_value.holds_global()
                && !matches!(target, Abs::Plain | Abs::Global { .. } | Abs::Extension(_)) =>
            {
                (
                    state.max(target.severity()).max(Severity::Unknown),
                    "the state plants a global in the object, which pickle may call",
                )
            }
            _ if state > target.severity().max(Severity::Unknown) => {
                (state, "the state holds a global of this severity")
            }
            Abs::Global { .. } | Abs::Extension(_) => {
                (Severity::Dangerous, "sets attributes of an imported global")
            }
            Abs::Singleton => (
                Severity::Dangerous,
                "sets attributes of a process-wide singleton",
            ),
            Abs::Made(s) => (*s, "calls __setstate__ or sets attributes"),
            _ if state > Severity::Safe => (state, "the state holds a global of this severity"),
            _ => return target.clone(),
        };
        self.out.calls.push(Finding {
            offset: self.op,
            opcode: "BUILD",
            target: target.target(),
            severity,
            reason: why,
        });
        Abs::Made(severity)
    }
}
