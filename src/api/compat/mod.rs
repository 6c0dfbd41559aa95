//! The request-parameter rules of Python, Django, django-filter and DRF, reproduced exactly so
//! that clients of the DRF service this replaces see no difference on the wire. Each function
//! names the upstream function it mirrors.

pub mod dates;
pub mod forms;
pub mod hosts;
pub mod pagination;
pub mod python;
pub mod querydict;
pub mod search;
pub mod urls;
