//! Typed attribute access that remembers what was read: after an op is imported, any
//! attribute it did not read is an error (a silently ignored attribute is a wrong answer).
//! Every error names the node, op, opset and attribute.

use crate::error::{Error, Result};
use crate::ir::{AttrValue, Node};
use crate::tensor::Tensor;
use std::cell::RefCell;

pub struct Attrs<'a> {
    node: &'a Node,
    read: RefCell<Vec<bool>>,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a Node) -> Attrs<'a> {
        Attrs {
            node,
            read: RefCell::new(vec![false; node.attrs.len()]),
        }
    }
    pub fn node(&self) -> &'a Node {
        self.node
    }
    /// An error about attribute `name` of this node.
    pub fn err(&self, name: &str, msg: impl std::fmt::Display) -> Error {
        Error::Node(format!(
            "{}, attribute '{name}': {msg}",
            self.node.describe()
        ))
    }
    fn get(&self, name: &str) -> Option<&'a AttrValue> {
        let i = self.node.attrs.iter().position(|(n, _)| n == name)?;
        self.read.borrow_mut()[i] = true;
        Some(&self.node.attrs[i].1)
    }
    fn wrong(&self, name: &str, want: &str, got: &AttrValue) -> Error {
        self.err(name, format!("expected {want}, got {}", got.kind()))
    }
    pub fn has(&self, name: &str) -> bool {
        self.node.attrs.iter().any(|(n, _)| n == name)
    }
    pub fn int_opt(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::Int(v)) => Ok(Some(*v)),
            Some(o) => Err(self.wrong(name, "int", o)),
        }
    }
    pub fn int(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.int_opt(name)?.unwrap_or(default))
    }
    pub fn req_int(&self, name: &str) -> Result<i64> {
        self.int_opt(name)?
            .ok_or_else(|| self.err(name, "required attribute missing"))
    }
    pub fn float_opt(&self, name: &str) -> Result<Option<f32>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::Float(v)) => Ok(Some(*v)),
            // Some exporters write integral floats as ints.
            Some(AttrValue::Int(v)) => Ok(Some(*v as f32)),
            Some(o) => Err(self.wrong(name, "float", o)),
        }
    }
    pub fn float(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self.float_opt(name)?.unwrap_or(default))
    }
    pub fn string_opt(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::String(v)) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
            Some(o) => Err(self.wrong(name, "string", o)),
        }
    }
    /// A string attribute's bytes (string data, not an option name).
    pub fn bytes_opt(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::String(v)) => Ok(Some(v.clone())),
            Some(o) => Err(self.wrong(name, "string", o)),
        }
    }
    pub fn string(&self, name: &str, default: &str) -> Result<String> {
        Ok(self
            .string_opt(name)?
            .unwrap_or_else(|| default.to_string()))
    }
    pub fn ints_opt(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::Ints(v)) => Ok(Some(v.clone())),
            Some(o) => Err(self.wrong(name, "ints", o)),
        }
    }
    pub fn floats_opt(&self, name: &str) -> Result<Option<Vec<f32>>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::Floats(v)) => Ok(Some(v.clone())),
            Some(o) => Err(self.wrong(name, "floats", o)),
        }
    }
    pub fn strings_opt(&self, name: &str) -> Result<Option<Vec<Vec<u8>>>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::Strings(v)) => Ok(Some(v.clone())),
            Some(o) => Err(self.wrong(name, "strings", o)),
        }
    }
    pub fn tensor_opt(&self, name: &str) -> Result<Option<Tensor>> {
        match self.get(name) {
            None => Ok(None),
            Some(AttrValue::Tensor(t)) => Ok(Some(t.clone())),
            Some(o) => Err(self.wrong(name, "tensor", o)),
        }
    }
    /// Mark an attribute as read without interpreting it (documented no-ops only).
    pub fn ignore(&self, name: &str) {
        let _ = self.get(name);
    }
    /// Error if any attribute was not read.
    pub fn finish(&self) -> Result<()> {
        let read = self.read.borrow();
        let unread: Vec<&str> = self
            .node
            .attrs
            .iter()
            .zip(read.iter())
            .filter(|(_, r)| !**r)
            .map(|((n, _), _)| n.as_str())
            .collect();
        match unread.first() {
            None => Ok(()),
            Some(n) => Err(self.err(n, "not supported by Kiln for this op")),
        }
    }
}
