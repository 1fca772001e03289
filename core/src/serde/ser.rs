//! The serde `Serializer` over the opcode-level [`Encoder`]: plain data only, written in
//! the shapes CPython uses (lists and dicts filled in batches of 1000 with `MARK` and
//! `APPENDS`/`SETITEMS` from protocol 1, one `APPEND`/`SETITEM` at a time in protocol 0).
//! Nothing is memoized: a Rust value has no shared references to preserve.

use alloc::vec::Vec;

use ::serde::ser::{self, Serialize};

use super::Error;
use crate::encode::Encoder;
use crate::opcode::BATCHSIZE;

/// Writes one value into an [`Encoder`]; see the module docs.
pub struct Serializer<'e> {
    enc: &'e mut Encoder,
}

impl<'e> Serializer<'e> {
    pub fn new(enc: &'e mut Encoder) -> Self {
        Serializer { enc }
    }

    fn reborrow(&mut self) -> Serializer<'_> {
        Serializer { enc: self.enc }
    }

    fn u128(&mut self, v: u128) {
        let mut le: Vec<u8> = v.to_le_bytes().to_vec();
        le.push(0);
        self.enc.big_int(&le);
    }
}

/// A list or dict being filled: `MARK` opens a batch, `APPENDS`/`SETITEMS` closes it.
pub struct Batch<'e> {
    ser: Serializer<'e>,
    dict: bool,
    in_batch: usize,
    /// For tuples: the length given to `tuple_begin`.
    tuple: Option<usize>,
    /// For enum variants written as `{"Variant": value}`: close that dict too.
    variant: bool,
}

impl<'e> Batch<'e> {
    fn list(ser: Serializer<'e>, dict: bool, variant: bool) -> Self {
        if dict {
            ser.enc.empty_dict();
        } else {
            ser.enc.empty_list();
        }
        Batch {
            ser,
            dict,
            in_batch: 0,
            tuple: None,
            variant,
        }
    }

    fn tuple(ser: Serializer<'e>, len: usize, variant: bool) -> Self {
        ser.enc.tuple_begin(len);
        Batch {
            ser,
            dict: false,
            in_batch: 0,
            tuple: Some(len),
            variant,
        }
    }

    fn before_item(&mut self) {
        if self.tuple.is_none() && self.ser.enc.protocol() >= 1 && self.in_batch == 0 {
            self.ser.enc.mark();
        }
    }

    fn after_item(&mut self) {
        if self.tuple.is_some() {
            return;
        }
        if self.ser.enc.protocol() == 0 {
            if self.dict {
                self.ser.enc.setitem();
            } else {
                self.ser.enc.append();
            }
            return;
        }
        self.in_batch += 1;
        if self.in_batch == BATCHSIZE {
            self.close_batch();
        }
    }

    fn close_batch(&mut self) {
        if self.in_batch > 0 {
            if self.dict {
                self.ser.enc.setitems();
            } else {
                self.ser.enc.appends();
            }
            self.in_batch = 0;
        }
    }

    fn finish(mut self) -> Result<(), Error> {
        match self.tuple {
            Some(len) => self.ser.enc.tuple_end(len),
            None => self.close_batch(),
        }
        if self.variant {
            self.ser.enc.setitem();
        }
        self.ser.enc.boundary();
        Ok(())
    }

    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.before_item();
        v.serialize(self.ser.reborrow())?;
        self.after_item();
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), Error> {
        self.before_item();
        self.ser.enc.str(key);
        v.serialize(self.ser.reborrow())?;
        self.after_item();
        Ok(())
    }
}

/// Opens `{"variant": ...}` for a newtype, tuple or struct variant.
fn open_variant(ser: &mut Serializer<'_>, variant: &str) {
    ser.enc.empty_dict();
    ser.enc.str(variant);
}

impl<'e> ser::Serializer for Serializer<'e> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Batch<'e>;
    type SerializeTuple = Batch<'e>;
    type SerializeTupleStruct = Batch<'e>;
    type SerializeTupleVariant = Batch<'e>;
    type SerializeMap = Batch<'e>;
    type SerializeStruct = Batch<'e>;
    type SerializeStructVariant = Batch<'e>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.enc.bool(v);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v as i64)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v as i64)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v as i64)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.enc.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.enc.big_int(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_i64(v as i64)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_i64(v as i64)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_i64(v as i64)
    }
    fn serialize_u64(mut self, v: u64) -> Result<(), Error> {
        self.u128(v as u128);
        Ok(())
    }
    fn serialize_u128(mut self, v: u128) -> Result<(), Error> {
        self.u128(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v as f64)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.enc.float(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.enc.str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.enc.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.enc.none();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        open_variant(&mut self, variant);
        value.serialize(self.reborrow())?;
        self.enc.setitem();
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Batch<'e>, Error> {
        Ok(Batch::list(self, false, false))
    }
    fn serialize_tuple(self, len: usize) -> Result<Batch<'e>, Error> {
        Ok(Batch::tuple(self, len, false))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Batch<'e>, Error> {
        Ok(Batch::tuple(self, len, false))
    }
    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Batch<'e>, Error> {
        open_variant(&mut self, variant);
        Ok(Batch::tuple(self, len, true))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Batch<'e>, Error> {
        Ok(Batch::list(self, true, false))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Batch<'e>, Error> {
        Ok(Batch::list(self, true, false))
    }
    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Batch<'e>, Error> {
        open_variant(&mut self, variant);
        Ok(Batch::list(self, true, true))
    }
}

/// The sequence-like serde traits: each element (or tuple field) is one list item.
macro_rules! batch_of_elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Batch<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.element(v)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

batch_of_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Batch<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.before_item();
        key.serialize(self.ser.reborrow())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(self.ser.reborrow())?;
        self.after_item();
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// The struct-like serde traits: each field is one `name: value` dict entry.
macro_rules! batch_of_fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Batch<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                self.field(key, v)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

batch_of_fields!(SerializeStruct, SerializeStructVariant);
